"""Notifications under faults: nothing accepted is lost, nothing half-done is reported as done.

Faults are injected where AWS is called (botocore) or where the receiver answers (a
real HTTP server on 127.0.0.1). Time moves only through the injected clock; SQS
redelivery after a crash or a backoff is played by the sweeper, as in production
when a message is late.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.clock import FixedClock
from chalicelib.deps import get_deps
from chalicelib.settings import get_settings
from chalicelib.workers import notifications as worker
from tests.notify_support import pump_until_idle, queue_depth
from tests.reliability.faults import Faults
from tests.support import Api, reset_all
from tests.webhook_receiver import Response, WebhookReceiver

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SCHEDULE = "5,5,5"  # three retries, then failed


@dataclass
class World:
    api: Api
    clock: FixedClock
    receiver: WebhookReceiver

    def channel(self, target: str | None = None, name: str = "hook") -> int:
        reply = self.api.post(
            "/system/notify/channels",
            {"name": name, "channel_type": "webhook", "target": target or self.receiver.url("/in")},
        )
        assert reply.status == 201, reply.json
        return int(reply.json["id"])

    def enqueue(self, channel_id: int) -> int:
        reply = self.api.post("/system/notify", {"channel_id": channel_id, "subject": "Alert", "body": "b"})
        assert reply.status == 201 and reply.json["status"] == "pending", reply.json
        return int(reply.json["id"])

    def detail(self, notification_id: int) -> dict[str, Any]:
        reply = self.api.get(f"/system/notify/{notification_id}")
        assert reply.status == 200
        return dict(reply.json)

    def settle(self, notification_id: int, rounds: int = 10) -> dict[str, Any]:
        """Deliver, let time pass, sweep, deliver... until the notification is sent or failed."""
        for _ in range(rounds):
            pump_until_idle()
            current = self.detail(notification_id)
            if current["status"] != "pending":
                return current
            self.clock.advance(seconds=get_settings().sweep_grace_seconds + get_settings().lease_seconds + 600)
            worker.sweep()
        raise AssertionError(f"notification {notification_id} never settled: {self.detail(notification_id)}")


@pytest.fixture
def world(api: Api, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("VALHALLA_ALLOW_PRIVATE_WEBHOOK_TARGETS", "true")
    monkeypatch.setenv("VALHALLA_RETRY_SCHEDULE", SCHEDULE)
    monkeypatch.setenv("VALHALLA_WEBHOOK_TIMEOUT_SECONDS", "0.3")
    reset_all()
    clock = FixedClock(T0)
    get_deps().clock = clock
    with WebhookReceiver() as receiver:
        yield World(api, clock, receiver)


def delivered_ok(receiver: WebhookReceiver) -> list[str]:
    """webhook-ids of the requests the receiver answered with a 2xx."""
    return [str(r.header("webhook-id")) for r in receiver.requests if 200 <= r.answered < 300]


# --- SQS ---------------------------------------------------------------------------------


@pytest.mark.parametrize("failures", [1, 2], ids=["enqueue", "enqueue-and-first-sweep"])
def test_sqs_send_failing_on_enqueue_is_recovered_by_the_sweeper(world: World, faults: Faults, failures: int) -> None:
    channel = world.channel()
    faults.fail("sqs", "SendMessage", "ServiceUnavailable", times=failures, status=503)
    # WHEN the queue refuses the message, the notification is still accepted: it is in the outbox
    notification = world.enqueue(channel)
    assert queue_depth() == 0 and world.detail(notification)["status"] == "pending"
    # THEN the sweeper sends it later (again if its first send fails too), and it is delivered once
    sent = world.settle(notification)
    assert sent["status"] == "sent"
    assert faults.rules[0].fired == failures
    assert delivered_ok(world.receiver) == [f"msg_local_{notification}"]


# --- a crash between the provider's accept and the status write ------------------------------


def _records_the_outcome(service: str, operation: str, params: dict[str, Any]) -> bool:
    values = params.get("ExpressionAttributeValues") or {}
    return operation == "UpdateItem" and {"S": "sent"} in values.values()


def test_a_crash_after_the_receiver_accepted_redelivers_with_the_same_webhook_id(world: World, faults: Faults) -> None:
    notification = world.enqueue(world.channel())
    # WHEN the worker dies after the receiver said 200 but before the outbox says "sent"
    faults.fail("dynamodb", "UpdateItem", "InternalServerError", times=1, when=_records_the_outcome, status=500)
    pump_until_idle()
    assert faults.rules[0].fired == 1
    assert world.detail(notification)["status"] == "pending"  # not reported as sent: it was not recorded
    assert len(world.receiver.requests) == 1
    # THEN, once the lease runs out, it is delivered again under the same webhook-id (receivers dedupe on it)
    sent = world.settle(notification)
    assert sent["status"] == "sent"
    ids = [r.header("webhook-id") for r in world.receiver.requests]
    assert len(ids) == 2 and len(set(ids)) == 1
    # and later sweeps send nothing more
    world.clock.advance(hours=2)
    assert worker.sweep() == 0
    pump_until_idle()
    assert len(world.receiver.requests) == 2


# --- receivers that misbehave ------------------------------------------------------------------


TRANSIENT = {
    "answers 500": Response(500, body=b"oops"),
    "times out": Response(delay=3.0),
    "answers 429 with Retry-After": Response.too_many(120),
    "redirects": Response.redirect("/elsewhere"),
}


@pytest.mark.parametrize("behaviour", list(TRANSIENT), ids=list(TRANSIENT))
def test_a_receiver_failing_for_a_while_gets_it_later_and_once(world: World, behaviour: str) -> None:
    world.receiver.script(TRANSIENT[behaviour])
    notification = world.enqueue(world.channel())
    pump_until_idle()
    # THEN after the first attempt it is pending with the error, not sent
    first = world.detail(notification)
    assert first["status"] == "pending" and first["attempts"] == 1 and first["last_error"], first
    if "Retry-After" in behaviour:
        wait = (datetime.fromisoformat(first["next_attempt_at"].replace("Z", "+00:00")) - T0).total_seconds()
        assert wait >= 120
    # THEN when the receiver is back it gets the notification, under the same webhook-id every time
    sent = world.settle(notification)
    assert sent["status"] == "sent" and sent["attempts"] == 2
    if behaviour == "times out":
        # The slow receiver did answer, after the sender had given up: it sees the id twice, and dedupes.
        assert set(delivered_ok(world.receiver)) == {f"msg_local_{notification}"}
    else:
        assert delivered_ok(world.receiver) == [f"msg_local_{notification}"]
    assert {r.header("webhook-id") for r in world.receiver.requests} == {f"msg_local_{notification}"}
    assert all(r.path == "/in" for r in world.receiver.requests)  # a redirect is never followed


def test_a_receiver_answering_410_fails_at_once_and_is_not_retried(world: World) -> None:
    world.receiver.script(Response(410, body=b"gone"))
    notification = world.enqueue(world.channel())
    failed = world.settle(notification)
    assert failed["status"] == "failed" and failed["attempts"] == 1 and "410" in failed["last_error"]
    world.clock.advance(hours=5)
    worker.sweep()
    pump_until_idle()
    assert len(world.receiver.requests) == 1


def test_a_receiver_refusing_connections_is_retried_then_failed_with_the_reason(world: World) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    notification = world.enqueue(world.channel(f"http://127.0.0.1:{closed_port}/in", name="closed"))
    failed = world.settle(notification)
    retries = len(SCHEDULE.split(","))
    assert failed["status"] == "failed" and failed["attempts"] == retries + 1
    assert all(attempt["outcome"] in ("retry", "failed") for attempt in failed["history"])
    assert failed["last_error"]
