"""Item 1: deeply nested JSON is refused before anything is written, an idempotency key is
never released once its write happened, and one bad stored item never breaks a list."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.common import Role
from chalicelib.services import outbox as notification_service
from tests.notify_support import create_channel, queue_depth
from tests.support import Api, reset_all


def nested(depth: int) -> dict[str, Any]:
    """``{"a": {"a": ... {"a": 1}}}`` with ``depth`` levels of objects."""
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return dict(value)


def item_ids(api: Api, path: str) -> list[Any]:
    reply = api.get(path)
    assert reply.status == 200, reply.json
    return [item["id"] for item in reply.json["items"]]


def test_item01_deep_payload_refused_nothing_written(api: Api) -> None:
    channel = create_channel(api)
    body = {"channel_id": channel["id"], "subject": "Deep", "body": "x", "payload": nested(256)}

    first = api.post("/system/notify", body, headers={"Idempotency-Key": "deep-1"})
    again = api.post("/system/notify", body, headers={"Idempotency-Key": "deep-1"})

    for reply in (first, again):
        assert reply.status == 422, reply.json
        assert reply.json["detail"][0]["loc"] == ["body", "payload"]
        assert "32" in reply.json["detail"][0]["msg"]
    assert item_ids(api, "/system/notify") == []
    assert queue_depth() == 0


def test_item01_deep_filter_params_refused_nothing_written(api: Api) -> None:
    body = {"job_type": "partner_sync", "filter_params": nested(256)}

    reply = api.post("/system/exports", body)

    assert reply.status == 422, reply.json
    assert reply.json["detail"][0]["loc"] == ["body", "filter_params"]
    assert item_ids(api, "/system/exports") == []


def test_item01_depth_limit_comes_from_settings(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    channel = create_channel(api)
    at_limit = {"channel_id": channel["id"], "subject": "s", "body": "b", "payload": nested(32)}
    assert api.post("/system/notify", at_limit).status == 201
    assert api.post("/system/notify", {**at_limit, "payload": nested(33)}).status == 422

    monkeypatch.setenv("VALHALLA_MAX_JSON_DEPTH", "4")
    reset_all()
    assert api.post("/system/notify", {**at_limit, "payload": nested(4)}).status == 201
    assert api.post("/system/notify", {**at_limit, "payload": nested(5)}).status == 422


def test_item01_idempotency_key_kept_once_the_write_happened(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure after the outbox write (here: building the response) must not free the key."""
    channel = create_channel(api)
    real_view = notification_service.notification_view
    calls = {"n": 0}

    def view_failing_once(item: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("response could not be built")
        return real_view(item)

    monkeypatch.setattr(notification_service, "notification_view", view_failing_once)
    body = {"channel_id": channel["id"], "subject": "Once", "body": "only once"}

    first = api.post("/system/notify", body, headers={"Idempotency-Key": "after-write"})
    retry = api.post("/system/notify", body, headers={"Idempotency-Key": "after-write"})

    assert first.status == 500
    assert retry.status == 409, retry.json
    assert len(item_ids(api, "/system/notify")) == 1  # sent once, never twice
    assert queue_depth() == 1


def test_item01_a_bad_stored_item_never_breaks_a_list(
    api: Api, tokens: dict[Role, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Items stored deeper than the response encoder can go (written while the limit was higher)."""
    monkeypatch.setenv("VALHALLA_MAX_JSON_DEPTH", "1000")
    reset_all()
    channel = create_channel(api)
    good = api.post("/system/notify", {"channel_id": channel["id"], "subject": "ok", "body": "b"})
    bad = api.post("/system/notify", {"channel_id": channel["id"], "subject": "x", "body": "b", "payload": nested(300)})
    job = api.post("/system/exports", {"job_type": "partner_sync", "filter_params": nested(300)})
    assert good.status == 201 and bad.status == 201 and job.status == 201, (bad.json, job.json)
    assert bad.json["payload"] is None and bad.json["unreadable_fields"] == ["payload"]

    viewer = api.as_(tokens[Role.viewer])
    notifications = viewer.get("/system/notify").json["items"]
    assert [item["id"] for item in notifications] == [bad.json["id"], good.json["id"]]
    assert notifications[0]["unreadable_fields"] == ["payload"]
    assert "unreadable_fields" not in notifications[1]
    assert viewer.get(f"/system/notify/{bad.json['id']}").status == 200

    exports = viewer.get("/system/exports")
    assert exports.status == 200 and [item["id"] for item in exports.json["items"]] == [job.json["id"]]
    assert exports.json["items"][0]["unreadable_fields"] == ["filter_params"]

    audit = viewer.get("/system/audit")
    assert audit.status == 200
    actions = [event["action"] for event in audit.json["items"]]
    assert actions.count("export.create") == 1 and actions.count("notification.enqueue") == 2
