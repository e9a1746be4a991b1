"""Event subscriptions end to end: the local stack (HTTP API, queue pumps, scheduler on an
embedded AWS) and a real webhook receiver on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from chalicelib.local import LocalStack
from chalicelib.local.stack import ADMIN_KEY_NAME
from tests.e2e.test_local_stack import http
from tests.webhook_receiver import Recorded, WebhookReceiver

TOKEN = "vk_events_e2e_admin_token"
EMPTY = {"actor": "nobody-at-all", "before_date": "2000-01-01"}
EVERYTHING = {"before_date": "2100-01-01"}


def wait_for(what: str, check: Callable[[], Any], seconds: float = 60.0) -> Any:
    """Poll until ``check()`` is truthy (the pumps work in their own threads)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    with LocalStack(port=0, admin_token=TOKEN, log=lambda line: None) as running:
        yield running


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


class Client:
    def __init__(self, stack: LocalStack) -> None:
        self.base = stack.base_url

    def __call__(self, method: str, path: str, body: Any = None, status: int | None = None) -> Any:
        reply = http(method, self.base + path, body, token=TOKEN)
        if status is not None:
            assert reply.status == status, (method, path, reply.status, reply.body)
        return reply


def events_received(receiver: WebhookReceiver, event_type: str) -> list[Recorded]:
    return [r for r in receiver.requests if r.body.startswith(b"{") and r.json().get("type") == event_type]


def finish_export(api: Client, filter_params: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body = {"job_type": "audit_log_export", "filter_params": filter_params, **extra}
    job = api("POST", "/system/exports", body, status=201).body
    done = wait_for(
        f"export {job['id']}",
        lambda: (view := api("GET", f"/system/exports/{job['id']}").body)["status"] in ("completed", "failed") and view,
    )
    assert done["status"] == "completed", done
    return dict(done)


def test_a_subscribed_webhook_receives_signed_events_filtered_until_the_subscription_is_deleted(
    stack: LocalStack, receiver: WebhookReceiver
) -> None:
    api = Client(stack)
    channel = api(
        "POST",
        "/system/notify/channels",
        {"name": "events-hook", "channel_type": "webhook", "target": receiver.url("/events")},
        status=201,
    ).body
    verifier = Webhook(channel["signing_secret"])
    subscription = api(
        "POST",
        "/system/events/subscriptions",
        {"name": "ops", "channel_ids": [channel["id"]], "event_types": ["export.*", "maintenance.changed"]},
        status=201,
    ).body

    # GIVEN a finished export WHEN its event fans out THEN the receiver gets it, signed, webhook-id = event id.
    job = finish_export(api, EVERYTHING)
    (request,) = wait_for("export.completed", lambda: events_received(receiver, "export.completed"))
    event = verifier.verify(request.body, request.headers)
    assert event["id"].startswith("evt_") and request.header("webhook-id") == event["id"]
    assert event["data"]["job_id"] == job["id"] and event["data"]["row_count"] == job["row_count"] >= 1
    assert set(event) == {"id", "type", "time", "data"}

    # Entering read-only: the event arrives while a write in that mode gets the shield's 503.
    api("POST", "/system/maintenance/state", {"mode": "read_only", "reason": "upgrade"}, status=200)
    blocked = api("POST", "/system/keys", {"name": "blocked", "role": "viewer"}, status=503)
    assert blocked.body["mode"] == "read_only"
    api("PATCH", f"/system/events/subscriptions/{subscription['id']}", {"enabled": False}, status=503)
    (entered,) = wait_for("maintenance.changed", lambda: events_received(receiver, "maintenance.changed"))
    assert verifier.verify(entered.body, entered.headers)["data"] == {
        "mode": "read_only",
        "previous_mode": "normal",
        "reason": "upgrade",
        "ends_at": None,
        "who": ADMIN_KEY_NAME,
    }
    api("POST", "/system/maintenance/state", {"mode": "normal"}, status=200)
    wait_for("leaving read_only", lambda: len(events_received(receiver, "maintenance.changed")) == 2)
    left = events_received(receiver, "maintenance.changed")[-1].json()["data"]
    assert (left["previous_mode"], left["mode"]) == ("read_only", "normal")

    # A filter on the data: a non-empty export passes, an empty one does not.
    api(
        "PATCH",
        f"/system/events/subscriptions/{subscription['id']}",
        {"filter": {"data.row_count": {"$gte": 1}}},
        status=200,
    )
    empty = finish_export(api, EMPTY)
    assert empty["row_count"] == 0
    full = finish_export(api, EVERYTHING)
    wait_for("the second export.completed", lambda: len(events_received(receiver, "export.completed")) == 2)
    delivered = [r.json()["data"]["job_id"] for r in events_received(receiver, "export.completed")]
    assert delivered == [job["id"], full["id"]]
    logged = api("GET", "/system/events?type=export.completed&limit=10").body["items"]
    by_job = {item["data"]["job_id"]: item for item in logged}
    assert by_job[empty["id"]]["notification_ids"] == [] and len(by_job[full["id"]]["notification_ids"]) == 1

    # Deleting the subscription stops delivery; the export's own notify_channel_id still works.
    api("DELETE", f"/system/events/subscriptions/{subscription['id']}", status=200)
    last = finish_export(api, EVERYTHING, notify_channel_id=channel["id"])
    own = wait_for(
        "the export's own notification",
        lambda: [r for r in receiver.requests if (r.json().get("payload") or {}).get("job_id") == last["id"]],
    )
    assert own
    logged = api("GET", "/system/events?type=export.completed&limit=1").body["items"][0]
    assert logged["data"]["job_id"] == last["id"] and logged["notification_ids"] == []
    assert [r.json()["data"]["job_id"] for r in events_received(receiver, "export.completed")] == delivered
