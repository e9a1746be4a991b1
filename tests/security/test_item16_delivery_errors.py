"""Item 16: a receiver's answer to a failed delivery is for admins only; everyone sees status and reason.

The receiver is a real HTTP server on 127.0.0.1 that refuses with a body a viewer must
never read: not in the notification, its list, a retry's answer, the notification
export file, nor the ``notification.failed`` system event.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import pytest

from chalicelib.deps import get_deps
from chalicelib.domain.common import Role
from tests.export_support import drain, read_object
from tests.notify_support import create_channel, enqueue, pump_until_idle
from tests.support import Api, reset_all
from tests.webhook_receiver import Response, WebhookReceiver

LEAK = b"internal stack trace: db password=hunter2"
PUBLIC = "HTTP 403 Forbidden"


@pytest.fixture
def failing_receiver(monkeypatch: pytest.MonkeyPatch, aws: None) -> Iterator[WebhookReceiver]:
    monkeypatch.setenv("VALHALLA_ALLOW_PRIVATE_WEBHOOK_TARGETS", "true")
    reset_all()
    with WebhookReceiver(default=Response(403, body=LEAK)) as receiver:
        yield receiver


def failed_notification(api: Api, receiver: WebhookReceiver) -> int:
    channel = create_channel(api, name="hook", channel_type="webhook", target=receiver.url("/in"))
    notification = enqueue(api, channel["id"])
    pump_until_idle()
    assert receiver.requests, "the receiver was never called"
    return int(notification["id"])


def test_item16_viewers_and_operators_see_status_and_reason_only(
    api: Api, tokens: dict[Role, str], failing_receiver: WebhookReceiver
) -> None:
    notification_id = failed_notification(api, failing_receiver)

    for role in (Role.viewer, Role.operator):
        caller = api.as_(tokens[role])
        detail = caller.get(f"/system/notify/{notification_id}").json
        assert detail["status"] == "failed"
        assert detail["last_error"] == PUBLIC
        assert detail["history"][-1]["error"] == PUBLIC and detail["history"][-1]["http_status"] == 403
        listed = caller.get("/system/notify").json["items"]
        assert [item["last_error"] for item in listed] == [PUBLIC]
        assert "hunter2" not in json.dumps(caller.get("/system/notify?status=failed").json)


def test_item16_an_operators_retry_answers_without_the_receivers_text(
    api: Api, tokens: dict[Role, str], failing_receiver: WebhookReceiver
) -> None:
    notification_id = failed_notification(api, failing_receiver)

    retried = api.as_(tokens[Role.operator]).post(f"/system/notify/{notification_id}/retry")

    assert retried.status == 200, retried.json
    assert "hunter2" not in json.dumps(retried.json)


def test_item16_the_notification_export_file_holds_status_and_reason_only(
    api: Api, tokens: dict[Role, str], failing_receiver: WebhookReceiver
) -> None:
    failed_notification(api, failing_receiver)
    for file_format in ("jsonl", "csv"):
        job = api.post(
            "/system/exports",
            {"job_type": "notification_export", "format": file_format, "filter_params": {"before_date": "2999-01-01"}},
        )
        assert job.status == 201, job.json
        drain()
        done = api.as_(tokens[Role.viewer]).get(f"/system/exports/{job.json['id']}").json
        assert done["status"] == "completed", done

        text = gzip.decompress(read_object(done["storage_url"])).decode()

        assert PUBLIC in text and "hunter2" not in text, file_format


def test_item16_the_failure_event_holds_status_and_reason_only(
    api: Api, tokens: dict[Role, str], failing_receiver: WebhookReceiver
) -> None:
    notification_id = failed_notification(api, failing_receiver)

    events = api.as_(tokens[Role.viewer]).get("/system/events?type=notification.failed").json["items"]

    assert [event["data"]["notification_id"] for event in events] == [notification_id]
    assert events[0]["data"]["last_error"] == PUBLIC


def test_item16_admins_still_see_the_receivers_answer(api: Api, failing_receiver: WebhookReceiver) -> None:
    notification_id = failed_notification(api, failing_receiver)

    detail = api.get(f"/system/notify/{notification_id}").json

    assert detail["last_error"].startswith("HTTP 403") and "hunter2" in detail["last_error"]
    assert "hunter2" in detail["history"][-1]["error"]
    assert "hunter2" in api.get("/system/notify").json["items"][0]["last_error"]


def test_item16_a_failure_event_stored_with_the_answer_is_cut_for_viewers(api: Api, tokens: dict[Role, str]) -> None:
    # As a release before this change stored it: the receiver's text in the event's data.
    data = {"notification_id": 7, "channel_id": 1, "channel_type": "webhook", "attempts": 8}
    get_deps().events.emit("notification.failed", {**data, "last_error": "HTTP 500: " + LEAK.decode()}, key="old:7")

    listed = api.as_(tokens[Role.viewer]).get("/system/events?type=notification.failed").json["items"]
    one = api.as_(tokens[Role.operator]).get(f"/system/events/{listed[0]['id']}").json

    assert listed[0]["data"]["last_error"] == one["data"]["last_error"] == "HTTP 500 Internal Server Error"
    assert "hunter2" in api.get(f"/system/events/{listed[0]['id']}").json["data"]["last_error"]
