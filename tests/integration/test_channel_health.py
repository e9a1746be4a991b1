"""Channel health over HTTP (Chalice test client, moto, a real receiver on 127.0.0.1): the breaker,
auto-disable and enable, a receiver's Retry-After, and the channel events."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chalicelib.clock import FixedClock
from chalicelib.domain.common import Role
from tests.notify_support import create_channel, enqueue, pump_once, worker
from tests.support import Api
from tests.webhook_receiver import Response, WebhookReceiver

HEALTH_FIELDS = {
    "state",
    "failure_rate",
    "attempts_in_window",
    "consecutive_failures",
    "failing_since",
    "opened_at",
    "next_probe_at",
    "disabled_at",
    "disabled_reason",
}


@pytest.fixture
def small_breaker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALHALLA_ALLOW_PRIVATE_WEBHOOK_TARGETS", "true")
    monkeypatch.setenv("VALHALLA_BREAKER_MIN_ATTEMPTS", "3")
    monkeypatch.setenv("VALHALLA_BREAKER_COOLDOWN_SECONDS", "30")
    monkeypatch.setenv("VALHALLA_AUTO_DISABLE_AFTER_SECONDS", "600")
    monkeypatch.setenv("VALHALLA_RETRY_SCHEDULE", "120,120")
    monkeypatch.setenv("VALHALLA_CONFIG_CACHE_SECONDS", "0")


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


def health(api: Api, channel_id: int) -> dict[str, object]:
    reply = api.get(f"/system/notify/channels/{channel_id}/health")
    assert reply.status == 200, reply.json
    return dict(reply.json)


def events(api: Api, event_type: str) -> list[dict[str, object]]:
    return list(api.get(f"/system/events/?type={event_type}").json["items"])


def test_a_new_channel_is_healthy_and_its_health_is_readable_by_a_viewer(api: Api, tokens: dict[Role, str]) -> None:
    channel = create_channel(api)
    reply = api.as_(tokens[Role.viewer]).get(f"/system/notify/channels/{channel['id']}/health")
    assert reply.status == 200
    assert set(reply.json) == HEALTH_FIELDS
    assert reply.json["state"] == "healthy" and reply.json["attempts_in_window"] == 0
    assert reply.json["failure_rate"] == 0 and reply.json["disabled_reason"] is None
    missing = api.get("/system/notify/channels/999999/health")
    assert missing.status == 404 and missing.json["status_code"] == 404


def test_failures_open_the_breaker_and_later_deliveries_are_deferred_unattempted(
    small_breaker: None, api: Api, receiver: WebhookReceiver
) -> None:
    receiver.default = Response(500)
    channel = create_channel(api, name="hook", channel_type="webhook", target=receiver.url())
    ids = [enqueue(api, channel["id"])["id"] for _ in range(3)]
    pump_once()  # one batch: three failed attempts, flushed together
    opened = health(api, channel["id"])
    assert opened["state"] == "open" and opened["attempts_in_window"] == 3 and opened["failure_rate"] == 1.0
    assert opened["consecutive_failures"] == 3 and str(opened["next_probe_at"]) > str(opened["opened_at"])

    late = enqueue(api, channel["id"])["id"]
    result = pump_once()
    assert result["records"] == 1 and len(result["batchItemFailures"]) == 1  # deferred, back on the queue
    assert len(receiver.requests) == 3
    detail = api.get(f"/system/notify/{late}").json
    assert detail["status"] == "pending" and detail["attempts"] == 0 and detail["history"] == []
    assert all(api.get(f"/system/notify/{i}").json["attempts"] == 1 for i in ids)


def test_enable_is_for_admins_and_resets_the_health(
    small_breaker: None, api: Api, tokens: dict[Role, str], receiver: WebhookReceiver
) -> None:
    receiver.default = Response(500)
    channel = create_channel(api, name="hook", channel_type="webhook", target=receiver.url())
    for _ in range(3):
        enqueue(api, channel["id"])
    pump_once()
    path = f"/system/notify/channels/{channel['id']}/enable"
    assert api.as_(tokens[Role.operator]).post(path).status == 403
    assert api.post("/system/notify/channels/999999/enable").status == 404
    reply = api.post(path)
    assert reply.status == 200
    assert reply.json["state"] == "healthy" and reply.json["attempts_in_window"] == 0
    assert reply.json["consecutive_failures"] == 0 and reply.json["opened_at"] is None


def test_a_channel_failing_past_the_auto_disable_time_is_disabled_announced_and_enabled_again(
    small_breaker: None, api: Api, clock: FixedClock, receiver: WebhookReceiver
) -> None:
    # GIVEN a receiver that fails every request, and a breaker that never trips (1 failure a batch)
    receiver.default = Response(500)
    channel = create_channel(api, name="hook", channel_type="webhook", target=receiver.url())
    first = enqueue(api, channel["id"])["id"]
    pump_once()
    assert health(api, channel["id"])["consecutive_failures"] == 1

    # WHEN it is still failing past VALHALLA_AUTO_DISABLE_AFTER_SECONDS
    clock.advance(seconds=601)
    enqueue(api, channel["id"])
    pump_once()

    # THEN the channel is disabled, says why, and channel.disabled is emitted
    disabled = health(api, channel["id"])
    assert disabled["state"] == "disabled" and "failing without a success since" in str(disabled["disabled_reason"])
    assert api.get(f"/system/notify/channels/{channel['id']}").json["active"] is False
    [announced] = events(api, "channel.disabled")
    assert announced["data"]["channel_id"] == channel["id"] and announced["data"]["reason"]
    refused = api.post("/system/notify/", {"channel_id": channel["id"], "subject": "s", "body": "b"})
    assert refused.status == 409

    # AND its pending notification fails with a clear last_error when its turn comes
    clock.advance(seconds=200)
    worker.sweep()  # the sweeper re-enqueues it (its message's visibility timeout is real time)
    pump_once()
    detail = api.get(f"/system/notify/{first}").json
    assert detail["status"] == "failed" and "disabled by its health check" in detail["last_error"]

    # WHEN an admin enables it and the receiver works again, THEN the first success emits channel.recovered
    enabled = api.post(f"/system/notify/channels/{channel['id']}/enable").json
    assert enabled["state"] == "healthy" and enabled["disabled_reason"] is None
    assert api.get(f"/system/notify/channels/{channel['id']}").json["active"] is True
    receiver.default = Response(200)
    fresh = enqueue(api, channel["id"])["id"]
    pump_once()
    assert api.get(f"/system/notify/{fresh}").json["status"] == "sent"
    [recovered] = events(api, "channel.recovered")
    assert recovered["data"]["channel_id"] == channel["id"]


def test_a_receivers_retry_after_pauses_the_whole_channel(
    small_breaker: None, api: Api, receiver: WebhookReceiver
) -> None:
    receiver.script(Response(503, {"Retry-After": "90"}))
    channel = create_channel(api, name="hook", channel_type="webhook", target=receiver.url())
    enqueue(api, channel["id"])
    pump_once()
    assert len(receiver.requests) == 1
    other = enqueue(api, channel["id"])["id"]  # another notification to the same channel
    result = pump_once()
    assert len(result["batchItemFailures"]) == 1 and len(receiver.requests) == 1
    detail = api.get(f"/system/notify/{other}").json
    assert detail["status"] == "pending" and detail["attempts"] == 0 and detail["next_attempt_at"] is not None
