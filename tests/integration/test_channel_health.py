"""Channel health over HTTP (Chalice test client, moto, a real receiver on 127.0.0.1): the breaker,
auto-disable and enable, a receiver's Retry-After, and the channel events."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from chalicelib.clock import FixedClock
from chalicelib.deps import get_deps
from chalicelib.domain.common import Role
from chalicelib.store.base import ADDS_PER_WRITE
from chalicelib.store.health import GROUPS, HealthRepo, HealthStateItem, group_of
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


@contextmanager
def health_updates() -> Iterator[list[dict[str, Any]]]:
    """The ``UpdateItem`` requests sent to the ``channel_health`` table meanwhile."""
    client = HealthStateItem._get_connection().connection.client
    sent: list[dict[str, Any]] = []

    def count(**kwargs: Any) -> None:
        if kwargs["params"].get("TableName") == HealthStateItem.Meta.table_name:  # the client serves every table
            sent.append(kwargs["params"])

    client.meta.events.register("before-parameter-build.dynamodb.UpdateItem", count, unique_id="health-update-counter")
    try:
        yield sent
    finally:
        client.meta.events.unregister("before-parameter-build.dynamodb.UpdateItem", unique_id="health-update-counter")


def observe(channel_id: int, successes: int, failures: int) -> None:
    service = get_deps().channel_health
    for _ in range(successes):
        service.observe(channel_id, success=True)
    for _ in range(failures):
        service.observe(channel_id, success=False)


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


def test_a_flush_writes_the_window_counters_of_many_channels_once_per_group(api: Api) -> None:
    # GIVEN 40 channels, five in each group, one of them enabled again after 3 failures (a new generation)
    ids = [create_channel(api, name=f"hook-{index}")["id"] for index in range(40)]
    assert {group_of(channel_id) for channel_id in ids} == set(range(GROUPS))
    reset, *others = ids
    observe(reset, 0, 3)
    get_deps().channel_health.flush()
    assert health(api, reset)["attempts_in_window"] == 3
    assert api.post(f"/system/notify/channels/{reset}/enable").json["attempts_in_window"] == 0

    # WHEN each channel has its own outcomes and the worker flushes them
    outcomes = {channel_id: (1 + index % 3, index % 2) for index, channel_id in enumerate(ids)}
    for channel_id, (successes, failures) in outcomes.items():
        observe(channel_id, successes, failures)
    with health_updates() as updates:
        get_deps().channel_health.flush()

    # THEN the counters took one write per group, not one per channel
    assert len(updates) <= GROUPS
    assert sorted(update["Key"]["pk"]["S"].split("#")[1] for update in updates) == [f"g{g:02d}" for g in range(GROUPS)]
    # AND each channel's window holds exactly its own outcomes, the enabled one only its new generation's
    mates = [channel_id for channel_id in others if group_of(channel_id) == group_of(reset)]
    for channel_id in [reset, *mates, others[0], others[-1]]:
        successes, failures = outcomes[channel_id]
        view = health(api, channel_id)
        assert view["attempts_in_window"] == successes + failures, channel_id
        assert view["failure_rate"] == round(failures / (successes + failures), 4), channel_id


def test_a_failing_channel_trips_on_its_own_rate_among_busy_healthy_channels_of_its_group(
    small_breaker: None, api: Api
) -> None:
    ids = [create_channel(api, name=f"hook-{index}")["id"] for index in range(GROUPS + 1)]
    failing, *healthy = ids
    [mate] = [channel_id for channel_id in healthy if group_of(channel_id) == group_of(failing)]
    observe(failing, 0, 3)
    for channel_id in healthy:
        observe(channel_id, 20, 0)
    get_deps().channel_health.flush()  # one write per group: the failing channel's counters share an item

    opened = health(api, failing)
    assert opened["state"] == "open" and opened["attempts_in_window"] == 3 and opened["failure_rate"] == 1.0
    busy = health(api, mate)
    assert busy["state"] == "healthy" and busy["attempts_in_window"] == 20 and busy["failure_rate"] == 0


def test_a_failed_counter_write_is_logged_and_the_state_still_changes(
    small_breaker: None, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = create_channel(api)

    def unavailable(*_: Any) -> None:
        raise RuntimeError("throttled")

    monkeypatch.setattr(HealthRepo, "add_outcomes", unavailable)
    observe(channel["id"], 0, 2)
    get_deps().channel_health.flush()  # does not raise: health is advisory

    after = health(api, channel["id"])
    assert after["consecutive_failures"] == 2 and after["attempts_in_window"] == 0


def test_a_group_item_gathering_hundreds_of_channels_is_written_in_several_requests(api: Api) -> None:
    repo = HealthRepo()
    counts = {channel_id: (0, 2, 1) for channel_id in range(1, 801)}  # 100 channels a group, 200 counters
    with health_updates() as updates:
        repo.add_outcomes(slot=1_000, shard=0, expires=2_000_000_000, counts=counts)
    assert len(updates) == GROUPS * -(-200 // ADDS_PER_WRITE) > GROUPS
    assert max(len(update["UpdateExpression"].encode()) for update in updates) <= 4096
    for channel_id in (1, 400, 800):
        window = repo.window(channel_id, generation=0, from_slot=1_000)
        assert (window.attempts, window.failures) == (2, 1), channel_id
    assert repo.window(5, generation=1, from_slot=1_000).attempts == 0  # another generation reads nothing
