"""Retention policy registry (seed PACK UI): create/update, listing, retrieval, flags, validation."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chalicelib.clock import FixedClock
from chalicelib.deps import get_deps
from chalicelib.domain.common import Role
from chalicelib.domain.retention import SetPolicy
from chalicelib.store.retention import PolicyItem
from tests.support import Api

SEED_POLICY = {"category": "audit_logs", "days_to_keep": 365, "description": "Keep audit logs for 1 year"}


def test_seed_examples_create_list_get_and_update(admin: Api) -> None:
    created = admin.post("/system/retention/", SEED_POLICY)
    assert created.status == 201, created.json
    policy = created.json
    assert policy["id"] >= 1
    assert policy["category"] == "audit_logs" and policy["days_to_keep"] == 365
    assert policy["enabled"] is True and policy["archive"] is False
    assert policy["description"] == "Keep audit logs for 1 year"
    assert policy["purgeable"] is True
    assert policy["created_at"] == policy["updated_at"] == "2026-06-01T12:00:00.000Z"

    listed = admin.get("/system/retention/")
    assert listed.status == 200
    assert [item["category"] for item in listed.json["items"]] == ["audit_logs"]
    assert listed.json["next_cursor"] is None

    fetched = admin.get("/system/retention/audit_logs")
    assert fetched.status == 200 and fetched.json == policy

    updated = admin.post(
        "/system/retention/", {"category": "audit_logs", "days_to_keep": 730, "description": "Extended to 2 years"}
    )
    assert updated.status == 200, updated.json
    assert updated.json["id"] == policy["id"]
    assert updated.json["days_to_keep"] == 730 and updated.json["description"] == "Extended to 2 years"
    assert updated.json["created_at"] == policy["created_at"]
    assert admin.get("/system/retention/audit_logs").json["days_to_keep"] == 730


def test_create_or_update_is_idempotent(admin: Api, clock: FixedClock) -> None:
    body = {"category": "temp_data", "days_to_keep": 7}
    first = admin.post("/system/retention/", body)
    clock.advance(minutes=5)
    second = admin.post("/system/retention/", body)
    assert (first.status, second.status) == (201, 200)
    same = {key: value for key, value in second.json.items() if key != "updated_at"}
    assert same == {key: value for key, value in first.json.items() if key != "updated_at"}
    assert second.json["updated_at"] == "2026-06-01T12:05:00.000Z"
    assert len(admin.get("/system/retention/").json["items"]) == 1


def test_one_row_per_category_even_under_concurrent_creates(admin: Api) -> None:
    retention = get_deps().retention

    def put(days: int) -> bool:
        created, _policy = retention.set_policy(SetPolicy(category="events", days_to_keep=days))
        return created

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(put, range(1, 13)))
    assert outcomes.count(True) == 1
    assert [item.category for item in PolicyItem.by_kind.query("policy")] == ["events"]
    assert admin.get("/system/retention/events").json["days_to_keep"] in range(1, 13)


def test_the_category_is_the_table_key_so_dynamodb_refuses_a_second_row() -> None:
    hash_keys = [key for key in PolicyItem._get_schema()["key_schema"] if key["KeyType"] == "HASH"]
    assert hash_keys == [{"AttributeName": "category", "KeyType": "HASH"}]


def test_listing_is_paginated_by_category(admin: Api) -> None:
    for category in ("temp_data", "audit_logs", "events", "notifications", "export_jobs"):
        admin.post("/system/retention/", {"category": category, "days_to_keep": 30})
    first = admin.get("/system/retention/?limit=2").json
    assert [item["category"] for item in first["items"]] == ["audit_logs", "events"]
    second = admin.get(f"/system/retention/?limit=2&cursor={first['next_cursor']}").json
    assert [item["category"] for item in second["items"]] == ["export_jobs", "notifications"]
    third = admin.get(f"/system/retention/?limit=2&cursor={second['next_cursor']}").json
    assert [item["category"] for item in third["items"]] == ["temp_data"]
    assert third["next_cursor"] is None
    assert admin.get("/system/retention/?limit=0").status == 422
    assert admin.get("/system/retention/?cursor=%%%").status == 422


def test_unknown_category_is_404_and_a_malformed_one_422(admin: Api) -> None:
    missing = admin.get("/system/retention/nothing_here")
    assert missing.status == 404 and "nothing_here" in missing.json["detail"]
    assert admin.get("/system/retention/Bad-Category").status == 422
    assert admin.get("/system/retention/nothing_here/preview").status == 404


def test_enabled_flag_defaults_true_toggles_and_is_kept_when_left_out(admin: Api) -> None:
    assert admin.post("/system/retention/", {"category": "events", "days_to_keep": 90}).json["enabled"] is True
    off = admin.post("/system/retention/", {"category": "events", "days_to_keep": 90, "enabled": False})
    assert off.status == 200 and off.json["enabled"] is False
    kept = admin.post("/system/retention/", {"category": "events", "days_to_keep": 60})
    assert kept.json["enabled"] is False and kept.json["days_to_keep"] == 60
    on = admin.post("/system/retention/", {"category": "events", "days_to_keep": 60, "enabled": True})
    assert on.json["enabled"] is True
    assert admin.get("/system/retention/events").json["enabled"] is True


def test_description_can_be_cleared_with_null(admin: Api) -> None:
    admin.post("/system/retention/", {"category": "events", "days_to_keep": 9, "description": "x"})
    kept = admin.post("/system/retention/", {"category": "events", "days_to_keep": 9})
    assert kept.json["description"] == "x"
    cleared = admin.post("/system/retention/", {"category": "events", "days_to_keep": 9, "description": None})
    assert cleared.json["description"] is None


def test_each_policy_says_whether_its_category_is_purgeable(admin: Api) -> None:
    for category in ("audit_logs", "notifications", "export_jobs", "events", "temp_data"):
        admin.post("/system/retention/", {"category": category, "days_to_keep": 30})
    purgeable = {item["category"]: item["purgeable"] for item in admin.get("/system/retention/").json["items"]}
    assert purgeable == {
        "audit_logs": True,
        "notifications": True,
        "export_jobs": True,
        "events": False,
        "temp_data": False,
    }


def test_archive_is_accepted_only_where_an_export_type_exists(admin: Api) -> None:
    for category in ("audit_logs", "notifications"):
        reply = admin.post("/system/retention/", {"category": category, "days_to_keep": 30, "archive": True})
        assert reply.status == 201 and reply.json["archive"] is True
    for category in ("export_jobs", "events"):
        reply = admin.post("/system/retention/", {"category": category, "days_to_keep": 30, "archive": True})
        assert reply.status == 422, reply.json
        assert reply.json["detail"][0]["loc"] == ["body", "archive"]
        assert admin.get(f"/system/retention/{category}").status == 404


BAD_BODIES: list[tuple[dict[str, Any], list[Any]]] = [
    ({"days_to_keep": 30}, ["body", "category"]),
    ({"category": "", "days_to_keep": 30}, ["body", "category"]),
    ({"category": "Audit_Logs", "days_to_keep": 30}, ["body", "category"]),
    ({"category": "audit-logs", "days_to_keep": 30}, ["body", "category"]),
    ({"category": "1logs", "days_to_keep": 30}, ["body", "category"]),
    ({"category": "a" * 65, "days_to_keep": 30}, ["body", "category"]),
    ({"category": "logs\n", "days_to_keep": 30}, None),  # stripped, then accepted: see below
    ({"category": "lo\u0000gs", "days_to_keep": 30}, ["body", "category"]),
    ({"category": 12, "days_to_keep": 30}, ["body", "category"]),
    ({"category": "runs", "days_to_keep": 30}, ["body", "category"]),
    ({"category": "purge", "days_to_keep": 30}, ["body", "category"]),
    ({"category": "logs"}, ["body", "days_to_keep"]),
    ({"category": "logs", "days_to_keep": 0}, ["body", "days_to_keep"]),
    ({"category": "logs", "days_to_keep": -5}, ["body", "days_to_keep"]),
    ({"category": "logs", "days_to_keep": 36501}, ["body", "days_to_keep"]),
    ({"category": "logs", "days_to_keep": "365"}, ["body", "days_to_keep"]),
    ({"category": "logs", "days_to_keep": 1.5}, ["body", "days_to_keep"]),
    ({"category": "logs", "days_to_keep": True}, ["body", "days_to_keep"]),
    ({"category": "logs", "days_to_keep": None}, ["body", "days_to_keep"]),
    ({"category": "logs", "days_to_keep": 30, "enabled": "yes"}, ["body", "enabled"]),
    ({"category": "logs", "days_to_keep": 30, "enabled": 1}, ["body", "enabled"]),
    ({"category": "logs", "days_to_keep": 30, "description": "x" * 1001}, ["body", "description"]),
    ({"category": "logs", "days_to_keep": 30, "description": "bell\u0007"}, ["body", "description"]),
    ({"category": "logs", "days_to_keep": 30, "description": 5}, ["body", "description"]),
    ({"category": "logs", "days_to_keep": 30, "archive": "true"}, ["body", "archive"]),
    ({"category": "logs", "days_to_keep": 30, "id": 7}, ["body", "id"]),
]


@pytest.mark.parametrize(("body", "loc"), BAD_BODIES)
def test_validation_errors_for_every_field_and_nothing_written(
    admin: Api,
    body: dict[str, Any],
    loc: list[Any] | None,
) -> None:
    reply = admin.post("/system/retention/", body)
    if loc is None:
        # Surrounding whitespace is stripped from strings before validation.
        assert reply.status == 201 and reply.json["category"] == "logs"
        return
    assert reply.status == 422, reply.json
    assert reply.json["status_code"] == 422
    assert loc in [error["loc"][: len(loc)] for error in reply.json["detail"]]
    assert admin.get("/system/retention/").json["items"] == []


def test_bounds_are_inclusive(admin: Api) -> None:
    assert admin.post("/system/retention/", {"category": "a", "days_to_keep": 1}).status == 201
    assert admin.post("/system/retention/", {"category": "b" * 64, "days_to_keep": 36500}).status == 201
    assert (
        admin.post("/system/retention/", {"category": "c", "days_to_keep": 1, "description": "x" * 1000}).status == 201
    )
    multi = admin.post("/system/retention/", {"category": "d", "days_to_keep": 1, "description": "a\n\tb"})
    assert multi.status == 201


def test_malformed_requests(admin: Api) -> None:
    assert admin.post("/system/retention/", raw=b"{not json").status == 400
    assert admin.post("/system/retention/", ["audit_logs"]).status == 422
    wrong_type = admin.post(
        "/system/retention/", raw=b'{"category":"x","days_to_keep":1}', headers={"content-type": "text/plain"}
    )
    assert wrong_type.status == 415


def test_roles_viewers_read_admins_write(admin: Api, tokens: dict[Role, str]) -> None:
    admin.post("/system/retention/", SEED_POLICY)
    viewer = admin.as_(tokens[Role.viewer])
    operator = admin.as_(tokens[Role.operator])
    assert viewer.get("/system/retention/").status == 200
    assert viewer.get("/system/retention/audit_logs").status == 200
    assert viewer.get("/system/retention/audit_logs/preview").status == 200
    assert viewer.get("/system/retention/runs").status == 200
    assert viewer.post("/system/retention/", SEED_POLICY).status == 403
    assert operator.post("/system/retention/", SEED_POLICY).status == 403
    assert operator.post("/system/retention/purge", {}).status == 403
    assert admin.get("/system/retention/", token=None).status == 401


def test_writes_are_refused_by_the_shield_in_read_only_mode(admin: Api) -> None:
    assert admin.post("/system/maintenance/state", {"mode": "read_only"}).status == 200
    reply = admin.post("/system/retention/", SEED_POLICY)
    assert reply.status == 503 and reply.json["mode"] == "read_only"
    assert admin.post("/system/retention/purge", {}).status == 503
    assert admin.get("/system/retention/").status == 200
    admin.post("/system/maintenance/state", {"mode": "normal"})
    assert admin.get("/system/retention/audit_logs").status == 404


def test_every_accepted_write_is_audited(admin: Api) -> None:
    admin.post("/system/retention/", SEED_POLICY)
    admin.post("/system/retention/", {**SEED_POLICY, "days_to_keep": 730})
    events = admin.get("/system/audit?actor=test-admin").json["items"]
    actions = [(event["action"], event["resource_id"]) for event in events]
    assert ("retention.policy.create", "audit_logs") in actions
    assert ("retention.policy.update", "audit_logs") in actions
    update = next(event for event in events if event["action"] == "retention.policy.update")
    assert update["summary"]["days_to_keep"] == 730


def test_runs_need_a_policy_per_named_category(admin: Api) -> None:
    admin.post("/system/retention/", SEED_POLICY)
    reply = admin.post("/system/retention/purge", {"categories": ["audit_logs", "ghosts"]})
    assert reply.status == 422
    assert reply.json["detail"][0]["loc"] == ["body", "categories", 1]
    for body in (
        {"categories": []},
        {"categories": ["Audit"]},
        {"categories": ["audit_logs", "audit_logs"]},
        {"dry_run": "no"},
        {"whatever": 1},
        {"categories": "audit_logs"},
    ):
        assert admin.post("/system/retention/purge", body).status == 422, body
    assert admin.get("/system/retention/runs").json["items"] == []
    assert admin.get("/system/retention/runs/999").status == 404
    assert admin.get("/system/retention/runs/abc").status == 422
