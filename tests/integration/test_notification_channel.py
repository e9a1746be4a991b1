"""Notification channels and the outbox through the API (seed PACK UG).

Delivery (SQS worker, drivers, retries, sweeper) is in ``test_notify_delivery.py``;
the webhook driver and its SSRF guard in ``test_notify_webhook.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.common import Role
from chalicelib.domain.notifications import BODY_MAX_BYTES, PAYLOAD_MAX_BYTES
from tests.notify_support import create_channel, enqueue, pump_until_idle, queue_depth
from tests.support import Api

# --- channels -----------------------------------------------------------------


def test_seed_example_creates_an_email_channel_and_lists_it(api: Api) -> None:
    # GIVEN the seed's curl example body
    created = api.post(
        "/system/notify/channels",
        {
            "name": "owner_email",
            "channel_type": "email",
            "target": "owner@example.com",
            "description": "Email for owner alerts",
        },
    )
    # THEN it is created, active by default, with an integer id from 1
    assert created.status == 201
    channel = created.json
    assert channel["id"] == 1 and channel["active"] is True and channel["name"] == "owner_email"
    assert channel["signing_secret"] is None
    assert channel["created_at"].endswith("Z") and channel["updated_at"] == channel["created_at"]
    # AND it is listed and readable by id
    listed = api.get("/system/notify/channels").json
    assert [item["name"] for item in listed["items"]] == ["owner_email"] and listed["next_cursor"] is None
    assert api.get("/system/notify/channels/1").json["target"] == "owner@example.com"
    assert api.get("/system/notify/channels/99").status == 404


def test_channel_name_is_unique_even_across_case(api: Api) -> None:
    create_channel(api, name="ops")
    duplicate = api.post("/system/notify/channels", {"name": "ops", "channel_type": "sms", "target": "+14155550100"})
    assert duplicate.status == 409 and "ops" in duplicate.json["detail"]
    assert (
        api.post("/system/notify/channels", {"name": "OPS", "channel_type": "email", "target": "a@b.io"}).status == 409
    )
    assert len(api.get("/system/notify/channels").json["items"]) == 1


def test_webhook_channel_gets_a_secret_shown_once(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    created = api.post(
        "/system/notify/channels", {"name": "hook", "channel_type": "webhook", "target": "https://hooks.example.com/in"}
    )
    assert created.status == 201
    secret = created.json["signing_secret"]
    assert secret.startswith("whsec_") and len(secret) > 30
    channel_id = created.json["id"]
    assert secret not in str(api.get("/system/notify/channels").raw)
    assert secret not in str(api.get(f"/system/notify/channels/{channel_id}").raw)
    assert secret not in str(api.get("/system/audit").raw)


def test_rotate_secret_returns_a_new_one_once_and_only_for_webhooks(api: Api) -> None:
    hook = create_channel(api, name="hook", channel_type="webhook", target="https://hooks.example.com/in")
    rotated = api.post(f"/system/notify/channels/{hook['id']}/rotate-secret")
    assert rotated.status == 200
    assert rotated.json["signing_secret"].startswith("whsec_")
    assert rotated.json["signing_secret"] != hook["signing_secret"]
    assert rotated.json["previous_secret_expires_at"].endswith("Z")
    assert api.get(f"/system/notify/channels/{hook['id']}").json["secret_rotated_at"]
    email = create_channel(api, name="mail")
    assert api.post(f"/system/notify/channels/{email['id']}/rotate-secret").status == 409
    assert api.post("/system/notify/channels/77/rotate-secret").status == 404


def test_patch_changes_target_active_description_and_validates_per_type(api: Api) -> None:
    channel = create_channel(api)
    changed = api.patch(
        f"/system/notify/channels/{channel['id']}",
        {"target": "other@example.com", "active": False, "description": "moved"},
    )
    assert changed.status == 200, changed.json
    assert changed.json["target"] == "other@example.com" and changed.json["active"] is False
    assert changed.json["description"] == "moved" and changed.json["updated_at"] >= channel["updated_at"]
    assert api.patch(f"/system/notify/channels/{channel['id']}", {"target": "+14155550100"}).status == 422
    assert api.patch(f"/system/notify/channels/{channel['id']}", {"name": "renamed"}).status == 422
    assert api.patch(f"/system/notify/channels/{channel['id']}", {}).status == 422
    assert api.patch(f"/system/notify/channels/{channel['id']}", {"active": None}).status == 422
    assert api.patch("/system/notify/channels/404", {"active": True}).status == 404
    cleared = api.patch(f"/system/notify/channels/{channel['id']}", {"description": None})
    assert cleared.status == 200 and cleared.json["description"] is None


VALID_CHANNEL = {"name": "c", "channel_type": "email", "target": "owner@example.com"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 257}, "name"),
        ({"name": "bad\nname"}, "name"),
        ({"name": "-leading-dash"}, "name"),
        ({"name": 5}, "name"),
        ({"channel_type": "pigeon"}, "channel_type"),
        ({"target": ""}, "target"),
        ({"target": "not-an-email"}, "target"),
        ({"target": "a@b"}, "target"),
        ({"target": "x" * 600 + "@example.com"}, "target"),
        ({"channel_type": "sms", "target": "4155550100"}, "target"),
        ({"channel_type": "sms", "target": "+0123456789"}, "target"),
        ({"channel_type": "sms", "target": "+1 415 555 0100"}, "target"),
        ({"channel_type": "webhook", "target": "ftp://example.com/x"}, "target"),
        ({"channel_type": "webhook", "target": "http://example.com/x"}, "target"),
        ({"channel_type": "webhook", "target": "https://user:pw@example.com/x"}, "target"),
        ({"channel_type": "webhook", "target": "https:///nohost"}, "target"),
        ({"channel_type": "webhook", "target": "https://10.0.0.5/hook"}, "target"),
        ({"channel_type": "webhook", "target": "https://169.254.169.254/latest"}, "target"),
        ({"channel_type": "webhook", "target": "https://localhost/hook"}, "target"),
        ({"active": "maybe"}, "active"),
        ({"description": "x" * 2001}, "description"),
        ({"description": "bell\x07"}, "description"),
        ({"extra": 1}, "extra"),
    ],
)
def test_channel_validation_errors_name_the_field(api: Api, change: dict[str, Any], field: str) -> None:
    reply = api.post("/system/notify/channels", {**VALID_CHANNEL, **change})
    assert reply.status == 422, reply.json
    assert any(error["loc"][:2] == ["body", field] for error in reply.json["detail"]), reply.json
    assert api.get("/system/notify/channels").json["items"] == []


def test_missing_fields_and_bad_json_are_refused(api: Api) -> None:
    assert api.post("/system/notify/channels", {"name": "x"}).status == 422
    assert api.post("/system/notify/channels", raw=b"{not json").status == 400
    reply = api.post("/system/notify/channels", VALID_CHANNEL, headers={"content-type": "text/plain"})
    assert reply.status == 415


def test_http_webhook_targets_only_where_private_targets_are_allowed(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support import reset_all

    body = {"name": "local-hook", "channel_type": "webhook", "target": "http://127.0.0.1:9/hook"}
    assert api.post("/system/notify/channels", body).status == 422
    monkeypatch.setenv("VALHALLA_ALLOW_PRIVATE_WEBHOOK_TARGETS", "true")
    reset_all()
    assert api.post("/system/notify/channels", body).status == 201


def test_channel_filters_and_pagination(api: Api) -> None:
    create_channel(api, name="mail-1")
    create_channel(api, name="mail-2", active=False)
    create_channel(api, name="sms-1", channel_type="sms", target="+14155550100")
    create_channel(api, name="sms-2", channel_type="sms", target="+14155550101", active=False)
    create_channel(api, name="hook-1", channel_type="webhook", target="https://hooks.example.com/a")

    def names(query: str) -> list[str]:
        reply = api.get(f"/system/notify/channels?{query}")
        assert reply.status == 200, reply.json
        return [item["name"] for item in reply.json["items"]]

    assert names("") == ["mail-1", "mail-2", "sms-1", "sms-2", "hook-1"]
    assert names("channel_type=sms") == ["sms-1", "sms-2"]
    assert names("active=true") == ["mail-1", "sms-1", "hook-1"]
    assert names("active=false") == ["mail-2", "sms-2"]
    assert names("active=false&channel_type=sms") == ["sms-2"]
    assert names("channel_type=webhook&active=false") == []
    assert api.get("/system/notify/channels?channel_type=fax").status == 422
    assert api.get("/system/notify/channels?limit=0").status == 422
    seen, cursor = [], None
    while True:
        page = api.get("/system/notify/channels?limit=2" + (f"&cursor={cursor}" if cursor else "")).json
        seen += [item["name"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ["mail-1", "mail-2", "sms-1", "sms-2", "hook-1"]
    assert api.get("/system/notify/channels?cursor=%%%").status == 422


def test_roles_viewers_read_operators_enqueue_admins_configure(api: Api, tokens: dict[Role, str]) -> None:
    viewer, operator = api.as_(tokens[Role.viewer]), api.as_(tokens[Role.operator])
    assert viewer.post("/system/notify/channels", VALID_CHANNEL).status == 403
    assert operator.post("/system/notify/channels", VALID_CHANNEL).status == 403
    channel = create_channel(api)
    assert viewer.get("/system/notify/channels").status == 200
    assert viewer.get(f"/system/notify/channels/{channel['id']}").status == 200
    assert operator.patch(f"/system/notify/channels/{channel['id']}", {"active": False}).status == 403
    assert viewer.post("/system/notify/", {"channel_id": channel["id"], "subject": "s", "body": "b"}).status == 403
    sent = operator.post("/system/notify/", {"channel_id": channel["id"], "subject": "s", "body": "b"})
    assert sent.status == 201
    assert viewer.get("/system/notify/").status == 200
    assert viewer.post(f"/system/notify/{sent.json['id']}/retry").status == 403
    assert api.get("/system/notify/", token=None).status == 401


def test_channel_writes_are_audited(api: Api) -> None:
    channel = create_channel(api, name="audited")
    api.patch(f"/system/notify/channels/{channel['id']}", {"active": False})
    actions = [event["action"] for event in api.get("/system/audit").json["items"]]
    assert actions[:2] == ["channel.update", "channel.create"]


def test_redacted_snapshot_of_all_channels(api: Api) -> None:
    from chalicelib.deps import get_deps

    hook = create_channel(
        api, name="slack", channel_type="webhook", target="https://hooks.example.com/services/T000/B000/XXXX"
    )
    create_channel(api, name="mail")
    snapshot = get_deps().notifications.list_all_channels_redacted()
    assert [channel["name"] for channel in snapshot] == ["slack", "mail"]
    assert hook["signing_secret"] not in str(snapshot) and "XXXX" not in str(snapshot)
    assert snapshot[0]["signing_secret"] == "[redacted]" and snapshot[1]["target"] == "owner@example.com"


# --- the outbox -----------------------------------------------------------------


def test_seed_example_enqueues_pending_with_its_payload(api: Api) -> None:
    channel = create_channel(api)
    reply = api.post(
        "/system/notify/",
        {
            "channel_id": channel["id"],
            "subject": "Alert",
            "body": "System updated",
            "payload": {"resource": "config", "action": "update"},
        },
    )
    assert reply.status == 201
    notification = reply.json
    assert notification["status"] == "pending" and notification["attempts"] == 0
    assert notification["payload"] == {"resource": "config", "action": "update"}
    assert notification["channel_id"] == channel["id"] and notification["last_error"] is None
    # AND it is in the list of pending ones, and on the queue
    pending = api.get("/system/notify/?status=pending").json["items"]
    assert [item["id"] for item in pending] == [notification["id"]]
    assert queue_depth() == 1
    detail = api.get(f"/system/notify/{notification['id']}").json
    assert detail["history"] == [] and detail["body"] == "System updated"


def test_nested_payloads_and_no_payload_round_trip(api: Api) -> None:
    channel = create_channel(api)
    nested = {"a": [1, 2.5, {"b": None, "c": True}], "unicode": "snø ✓", "deep": {"x": {"y": {"z": "1"}}}}
    with_payload = enqueue(api, channel["id"], payload=nested)
    without = enqueue(api, channel["id"])
    assert api.get(f"/system/notify/{with_payload['id']}").json["payload"] == nested
    assert api.get(f"/system/notify/{without['id']}").json["payload"] is None


def test_enqueue_to_unknown_or_inactive_channel(api: Api) -> None:
    assert api.post("/system/notify/", {"channel_id": 42, "subject": "s", "body": "b"}).status == 404
    channel = create_channel(api, active=False)
    refused = api.post("/system/notify/", {"channel_id": channel["id"], "subject": "s", "body": "b"})
    assert refused.status == 409 and "inactive" in refused.json["detail"]
    assert api.get("/system/notify/").json["items"] == [] and queue_depth() == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"channel_id": 0}, "channel_id"),
        ({"channel_id": "one"}, "channel_id"),
        ({"channel_id": True}, "channel_id"),
        ({"subject": ""}, "subject"),
        ({"subject": "x" * 513}, "subject"),
        ({"subject": "two\nlines"}, "subject"),
        ({"body": 5}, "body"),
        ({"body": "nul\x00"}, "body"),
        ({"payload": [1, 2]}, "payload"),
        ({"payload": "text"}, "payload"),
        ({"priority": "high"}, "priority"),
    ],
)
def test_enqueue_validation_errors(api: Api, change: dict[str, Any], field: str) -> None:
    channel = create_channel(api)
    reply = api.post("/system/notify/", {"channel_id": channel["id"], "subject": "s", "body": "b", **change})
    assert reply.status == 422, reply.json
    assert any(error["loc"][:2] == ["body", field] for error in reply.json["detail"]), reply.json
    assert api.get("/system/notify/").json["items"] == []


def test_subject_of_512_characters_is_accepted(api: Api) -> None:
    channel = create_channel(api)
    assert enqueue(api, channel["id"], subject="x" * 512)["subject"] == "x" * 512


def test_oversized_body_or_payload_is_413_and_nothing_is_written(api: Api) -> None:
    channel = create_channel(api)
    at_limit = enqueue(api, channel["id"], body="b" * BODY_MAX_BYTES)
    assert at_limit["status"] == "pending"
    big_body = api.post("/system/notify/", {"channel_id": channel["id"], "subject": "s", "body": "é" * BODY_MAX_BYTES})
    assert big_body.status == 413 and "body" in big_body.json["detail"]
    big_payload = {"blob": "p" * PAYLOAD_MAX_BYTES}
    reply = api.post(
        "/system/notify/", {"channel_id": channel["id"], "subject": "s", "body": "", "payload": big_payload}
    )
    assert reply.status == 413 and "payload" in reply.json["detail"]
    assert len(api.get("/system/notify/").json["items"]) == 1


def test_idempotency_key_replays_the_first_response(api: Api) -> None:
    channel = create_channel(api)
    body = {"channel_id": channel["id"], "subject": "Once", "body": "only once"}
    first = api.post("/system/notify/", body, headers={"Idempotency-Key": "order-7"})
    again = api.post("/system/notify/", body, headers={"Idempotency-Key": "order-7"})
    assert first.status == again.status == 201
    assert again.json == first.json
    assert len(api.get("/system/notify/").json["items"]) == 1 and queue_depth() == 1
    other = api.post("/system/notify/", {**body, "body": "different"}, headers={"Idempotency-Key": "order-7"})
    assert other.status == 409
    fresh = api.post("/system/notify/", body, headers={"Idempotency-Key": "order-8"})
    assert fresh.status == 201 and fresh.json["id"] != first.json["id"]
    # an error is not remembered: the key can be used once the channel exists
    missing = {"channel_id": 999, "subject": "s", "body": "b"}
    assert api.post("/system/notify/", missing, headers={"Idempotency-Key": "k-404"}).status == 404
    assert api.post("/system/notify/", missing, headers={"Idempotency-Key": "k-404"}).status == 404


def test_status_filter_channel_filter_newest_first_and_pagination(api: Api) -> None:
    mail = create_channel(api, name="mail")
    sms = create_channel(api, name="sms", channel_type="sms", target="+14155550100")
    ids = [enqueue(api, mail["id"], subject=f"m{i}")["id"] for i in range(3)]
    ids += [enqueue(api, sms["id"], subject=f"s{i}")["id"] for i in range(2)]
    pump_until_idle()  # all five are sent (moto SES and SNS accept them)
    late = enqueue(api, mail["id"], subject="late")["id"]

    def listed(query: str) -> list[int]:
        reply = api.get(f"/system/notify/?{query}")
        assert reply.status == 200, reply.json
        return [item["id"] for item in reply.json["items"]]

    assert listed("") == [late, *reversed(ids)]
    assert listed("status=sent") == list(reversed(ids))
    assert listed("status=pending") == [late]
    assert listed("status=failed") == []
    assert listed(f"channel_id={sms['id']}") == list(reversed(ids[3:]))
    assert listed(f"channel_id={mail['id']}&status=pending") == [late]
    assert listed(f"channel_id={mail['id']}&status=sent") == list(reversed(ids[:3]))
    assert api.get("/system/notify/?status=lost").status == 422
    assert api.get("/system/notify/?channel_id=x").status == 422
    seen, cursor, pages = [], None, 0
    while True:
        page = api.get("/system/notify/?status=sent&limit=2" + (f"&cursor={cursor}" if cursor else "")).json
        pages += 1
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids)) and pages == 3


def test_get_unknown_notification_is_404_and_bad_id_422(api: Api) -> None:
    assert api.get("/system/notify/12345").status == 404
    assert api.get("/system/notify/abc").status == 422
    assert api.post("/system/notify/abc/retry").status == 422


def test_retry_is_409_unless_failed(api: Api) -> None:
    channel = create_channel(api)
    pending = enqueue(api, channel["id"])
    refused = api.post(f"/system/notify/{pending['id']}/retry")
    assert refused.status == 409 and "pending" in refused.json["detail"]
    assert api.post("/system/notify/999/retry").status == 404


def test_enqueue_is_refused_in_read_only_mode_but_reads_work(api: Api) -> None:
    channel = create_channel(api)
    api.post("/system/maintenance/state", {"mode": "read_only"})
    blocked = api.post("/system/notify/", {"channel_id": channel["id"], "subject": "s", "body": "b"})
    assert blocked.status == 503 and blocked.json["mode"] == "read_only"
    assert api.get("/system/notify/").status == 200
    assert api.get("/system/notify/channels").status == 200


def test_manual_retries_stop_at_the_attempt_bound(api: Api) -> None:
    from chalicelib.domain.notifications import MAX_TOTAL_ATTEMPTS
    from chalicelib.store.notifications import OutboxItem
    from chalicelib.store.outbox import status_key

    notification = enqueue(api, create_channel(api)["id"])
    OutboxItem(notification["id"]).update(
        actions=[
            OutboxItem.status.set("failed"),
            OutboxItem.status_key.set(status_key("failed", notification["id"])),
            OutboxItem.attempts.set(MAX_TOTAL_ATTEMPTS),
        ]
    )
    refused = api.post(f"/system/notify/{notification['id']}/retry")
    assert refused.status == 409 and "no more retries" in refused.json["detail"]
