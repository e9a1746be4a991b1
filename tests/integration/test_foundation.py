"""Health, auth, roles, keys, audit, errors, ids and pagination."""

from __future__ import annotations

import pytest

from app import app
from chalicelib.domain.common import Role
from chalicelib.http import RouteDoc
from tests.support import Api

PUBLIC_ROUTES = {
    ("/system/health", "GET"),
    ("/system/openapi.json", "GET"),
    # The console's page and assets hold no data: the page asks for a key and sends it to the API.
    ("/console", "GET"),
    ("/console/app.js", "GET"),
    ("/console/app.css", "GET"),
}


def all_routes() -> list[tuple[str, str, object]]:
    return [(path, method, entry) for path, methods in app.routes.items() for method, entry in methods.items()]


def test_health_needs_no_token_and_reports_mode(api: Api) -> None:
    reply = api.get("/system/health", token=None)
    assert reply.status == 200
    assert reply.json["status"] == "ok"
    assert reply.json["mode"] == "normal"
    assert reply.json["version"]


def test_every_route_but_the_public_ones_has_the_authorizer_and_a_role() -> None:
    for path, method, entry in all_routes():
        doc: RouteDoc = entry.view_function.__valhalla_route__  # type: ignore[attr-defined]
        if (path, method) in PUBLIC_ROUTES:
            assert entry.authorizer is None and doc.role is None, (path, method)
        else:
            assert entry.authorizer is not None, f"{method} {path} has no authorizer"
            assert doc.role is not None, f"{method} {path} declares no role"


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Bearer ", "vk_only-token"])
def test_every_protected_route_refuses_a_missing_or_bad_token(api: Api, header: str | None) -> None:
    for path, method, _entry in all_routes():
        if (path, method) in PUBLIC_ROUTES:
            continue
        concrete = path.replace("{", "").replace("}", "").replace("_id", "1").replace("category", "x")
        headers = {"authorization": header} if header else {}
        reply = api.request(method, concrete, {}, token=None, headers=headers)
        assert reply.status == 401, (method, concrete, header, reply.json)
        if header:
            assert reply.json["status_code"] == 401


def test_roles_are_enforced(api: Api, tokens: dict[Role, str]) -> None:
    viewer = api.as_(tokens[Role.viewer])
    operator = api.as_(tokens[Role.operator])
    assert viewer.get("/system/maintenance/state").status == 200
    assert viewer.post("/system/maintenance/state", {"mode": "read_only"}).status == 403
    assert operator.post("/system/maintenance/state", {"mode": "read_only"}).status == 403
    assert operator.get("/system/keys").status == 403
    forbidden = viewer.post("/system/keys", {"name": "x", "role": "viewer"})
    assert forbidden.status == 403
    assert forbidden.json == {"status_code": 403, "detail": forbidden.json["detail"]}


def test_key_lifecycle_token_shown_once_and_revocation_is_immediate(api: Api) -> None:
    created = api.post("/system/keys", {"name": "ci-bot", "role": "operator"})
    assert created.status == 201
    token = created.json["token"]
    assert token.startswith("vk_")
    listed = api.get("/system/keys").json["items"]
    assert token not in str(listed)
    assert any(key["name"] == "ci-bot" and key["role"] == "operator" for key in listed)
    bot = api.as_(token)
    assert bot.get("/system/maintenance/state").status == 200
    revoked = api.delete(f"/system/keys/{created.json['id']}")
    assert revoked.status == 200 and revoked.json["revoked_at"]
    assert bot.get("/system/maintenance/state").status == 401
    assert api.delete("/system/keys/999").status == 404
    assert api.delete("/system/keys/abc").status == 422


def test_keys_are_stored_only_as_hashes(api: Api) -> None:
    from chalicelib.store.keys import ApiKeyItem

    token = api.post("/system/keys", {"name": "hashed", "role": "viewer"}).json["token"]
    stored = [item.attribute_values for item in ApiKeyItem.by_id.query("api_key")]
    assert token not in str(stored)


def test_writes_are_audited_with_who_what_and_secrets_redacted(api: Api) -> None:
    api.post("/system/maintenance/state", {"mode": "read_only", "reason": "upgrade"})
    api.post("/system/maintenance/state", {"mode": "normal"})
    api.post("/system/keys", {"name": "audited", "role": "viewer"})
    events = api.get("/system/audit").json["items"]
    actions = [event["action"] for event in events]
    assert actions[:3] == ["key.create", "maintenance.set", "maintenance.set"]
    newest = events[0]
    assert newest["actor"] == "test-admin" and newest["role"] == "admin"
    assert newest["resource_type"] == "api_key" and newest["request_id"]
    assert "vk_" not in str(events)
    only_keys = api.get("/system/audit?action=key.create").json["items"]
    assert [event["action"] for event in only_keys] == ["key.create"]
    by_actor = api.get("/system/audit?actor=test-admin&action=maintenance.set").json["items"]
    assert len(by_actor) == 2
    assert api.get("/system/audit?actor=nobody").json["items"] == []


def test_audit_time_range_and_pagination(api: Api) -> None:
    for mode in ("read_only", "normal", "maintenance", "normal"):
        api.post("/system/maintenance/state", {"mode": mode})
    seen, cursor = [], None
    while True:
        path = "/system/audit?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = api.get(path).json
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 4 and len({event["id"] for event in seen}) == 4
    assert [event["at"] for event in seen] == sorted((event["at"] for event in seen), reverse=True)
    assert api.get("/system/audit?start=2000-01-01T00:00:00Z&end=2000-01-02T00:00:00Z").json["items"] == []
    bad = api.get("/system/audit?start=2020-01-02T00:00:00Z&end=2020-01-01T00:00:00Z")
    assert bad.status == 422


@pytest.mark.parametrize(
    ("raw", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
        (b'{"mode": NaN}', "application/json", 400),
        (b'{"mode": "read_only"}', "text/plain", 415),
        (b'{"mode": "sideways"}', "application/json", 422),
        (b'{"mode": "normal", "extra": 1}', "application/json", 422),
        (b"[" * 5000 + b"]" * 5000, "application/json", 400),
        (b'{"mode": "normal", "reason": "' + b"x" * 300_000 + b'"}', "application/json", 413),
    ],
)
def test_bad_input_gets_the_one_error_shape_and_changes_nothing(
    api: Api, raw: bytes, content_type: str, status: int
) -> None:
    reply = api.post("/system/keys", raw=raw, headers={"content-type": content_type})
    assert reply.status == status, reply.json
    assert reply.json["status_code"] == status and reply.json["detail"]
    if status == 422:
        assert all({"loc", "msg", "type"} <= set(error) for error in reply.json["detail"])
    assert len(api.get("/system/keys").json["items"]) == 3  # only the fixtures' keys


def test_validation_errors_say_where(api: Api) -> None:
    reply = api.post("/system/keys", {"name": "", "role": "root"})
    assert reply.status == 422
    locations = {tuple(error["loc"]) for error in reply.json["detail"]}
    assert ("body", "name") in locations and ("body", "role") in locations
    assert api.get("/system/keys?limit=0").status == 422
    assert api.get("/system/keys?limit=101").status == 422
    assert api.get("/system/keys?cursor=!!!").status == 422


def test_unexpected_errors_are_500_with_a_request_id_and_no_trace(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.services.keys import ApiKeys

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(ApiKeys, "page", explode)
    reply = api.get("/system/keys")
    assert reply.status == 500
    assert reply.json["status_code"] == 500 and reply.json["request_id"]
    assert "secret internals" not in reply.raw.decode() and "Traceback" not in reply.raw.decode()


def test_ids_are_integers_from_one_and_unique(aws: None) -> None:
    from chalicelib.store.counters import IdAllocator

    first, second = IdAllocator(block_size=3), IdAllocator(block_size=3)
    ids = [first.next_id("things"), first.next_id("things"), second.next_id("things"), first.next_id("things")]
    assert ids[0] == 1 and ids[1] == 2
    assert len(set(ids)) == 4
    assert IdAllocator(block_size=1).next_id("others") == 1


def test_key_list_paginates(api: Api) -> None:
    for index in range(5):
        api.post("/system/keys", {"name": f"k{index}", "role": "viewer"})
    first = api.get("/system/keys?limit=4").json
    assert len(first["items"]) == 4 and first["next_cursor"]
    second = api.get(f"/system/keys?limit=4&cursor={first['next_cursor']}").json
    ids = [key["id"] for key in first["items"] + second["items"]]
    assert len(ids) == 8 and len(set(ids)) == 8
    assert ids == sorted(ids)


def test_cli_creates_a_key_and_prints_the_token_once(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    from chalicelib import cli
    from chalicelib.deps import get_deps

    cli.main(["keys", "create", "--role", "admin", "--name", "first-admin"])
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert token.startswith("vk_")
    principal = get_deps().keys.authenticate(token)
    assert principal is not None and principal.role is Role.admin and principal.name == "first-admin"

    assert cli.main(["keys", "create", "--role", "viewer", "--name", "First-Admin"]) == 1  # names are unique
    assert "already exists" in capsys.readouterr().err


def test_every_key_schema_lists_the_partition_key_first() -> None:
    """DynamoDB (and CloudFormation) refuse a key schema that starts with the sort key."""
    from chalicelib.store.base import table_spec
    from chalicelib.store.models import all_models

    for model in all_models():
        spec = table_spec(model)
        schemas = [spec["KeySchema"], *(index["KeySchema"] for index in spec.get("GlobalSecondaryIndexes", []))]
        for schema in schemas:
            assert schema[0]["KeyType"] == "HASH", (spec["TableName"], schema)
            assert [key["KeyType"] for key in schema[1:]] in ([], ["RANGE"])
