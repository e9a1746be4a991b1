"""Item 9: the audit log names an actor by key id and name; a key name is taken once (409)."""

from __future__ import annotations

import gzip
import json

from chalicelib.domain.common import Role
from chalicelib.store.keys import ApiKeyItem
from tests.export_support import drain, read_object
from tests.notify_support import create_channel
from tests.support import Api


def key_names(api: Api) -> list[str]:
    return [key["name"] for key in api.get("/system/keys?limit=100").json["items"]]


def test_item09_a_duplicate_key_name_is_409_and_writes_nothing(api: Api) -> None:
    first = api.post("/system/keys", {"name": "deploy-bot", "role": "viewer"})
    assert first.status == 201
    audited = len(api.get("/system/audit?action=key.create").json["items"])

    for name in ("deploy-bot", "Deploy-Bot"):
        again = api.post("/system/keys", {"name": name, "role": "admin"})
        assert again.status == 409, again.json
        assert again.json["status_code"] == 409 and "deploy-bot" in again.json["detail"].lower()
        assert "token" not in again.json

    assert key_names(api).count("deploy-bot") == 1 and "Deploy-Bot" not in key_names(api)
    assert len(api.get("/system/audit?action=key.create").json["items"]) == audited


def test_item09_a_revoked_keys_name_stays_taken(api: Api) -> None:
    # Old audit events name it: a new key of that name would be mistaken for it.
    created = api.post("/system/keys", {"name": "old-ci", "role": "viewer"}).json
    assert api.delete(f"/system/keys/{created['id']}").status == 200

    assert api.post("/system/keys", {"name": "old-ci", "role": "viewer"}).status == 409


def test_item09_a_key_stored_before_names_were_unique_still_owns_its_name(api: Api) -> None:
    # A key written as the previous release did: no name marker next to it.
    ApiKeyItem(
        "0" * 64, id=999, name="legacy", role="viewer", prefix="vk_legac", created_at="2026-01-01T00:00:00Z"
    ).save()

    assert api.post("/system/keys", {"name": "LEGACY", "role": "admin"}).status == 409
    assert key_names(api).count("legacy") == 1


def test_item09_audit_events_carry_the_acting_keys_id(api: Api, tokens: dict[Role, str]) -> None:
    created = api.post("/system/keys", {"name": "ops-1", "role": "operator"}).json
    operator = api.as_(created["token"])
    channel = create_channel(api)
    assert operator.post("/system/notify", {"channel_id": channel["id"], "subject": "s", "body": "b"}).status == 201

    viewer = api.as_(tokens[Role.viewer])
    events = viewer.get("/system/audit").json["items"]
    enqueued = next(event for event in events if event["action"] == "notification.enqueue")
    assert enqueued["actor"] == "ops-1" and enqueued["actor_key_id"] == created["id"]
    admin_id = next(key["id"] for key in api.get("/system/keys").json["items"] if key["name"] == "test-admin")
    key_create = next(event for event in events if event["action"] == "key.create")
    assert key_create["actor"] == "test-admin" and key_create["actor_key_id"] == admin_id
    by_actor = viewer.get("/system/audit?actor=ops-1").json["items"]
    assert [event["actor_key_id"] for event in by_actor] == [created["id"]]


def test_item09_the_audit_export_carries_the_acting_keys_id(api: Api, tokens: dict[Role, str]) -> None:
    created = api.post("/system/keys", {"name": "ops-2", "role": "operator"}).json
    job = api.as_(created["token"]).post(
        "/system/exports", {"job_type": "audit_log_export", "filter_params": {"before_date": "2999-01-01"}}
    )
    assert job.status == 201, job.json
    drain()
    done = api.as_(tokens[Role.viewer]).get(f"/system/exports/{job.json['id']}").json
    assert done["status"] == "completed", done

    rows = [json.loads(line) for line in gzip.decompress(read_object(done["storage_url"])).decode().splitlines()]

    key_create = next(row for row in rows if row["action"] == "key.create" and row["resource_id"] == str(created["id"]))
    admin_id = next(key["id"] for key in api.get("/system/keys").json["items"] if key["name"] == "test-admin")
    assert key_create["actor"] == "test-admin" and key_create["actor_key_id"] == admin_id
