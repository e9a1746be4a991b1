"""Emitting and fan-out under failure: nothing lost, nothing twice, never in the way, no loops,
and the bounded-staleness cache of subscriptions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from chalicelib.clock import utcnow
from chalicelib.deps import get_deps
from chalicelib.services import events as events_service
from chalicelib.services.emitting import emit
from chalicelib.store.notifications import OutboxItem
from chalicelib.workers import notifications as notification_worker
from tests.notify_support import create_channel, enqueue, pump_until_idle, sqs_records
from tests.support import Api, reset_all

SUBS = "/system/events/subscriptions"


def subscribe(api: Api, channel_ids: list[int], event_types: list[str], name: str = "ops") -> dict[str, Any]:
    reply = api.post(SUBS, {"name": name, "channel_ids": channel_ids, "event_types": event_types})
    assert reply.status == 201, reply.json
    return dict(reply.json)


def logged(api: Api, event_type: str) -> list[dict[str, Any]]:
    reply = api.get(f"/system/events?type={event_type}&limit=100")
    assert reply.status == 200, reply.json
    return list(reply.json["items"])


def outbox_for(event_id: str) -> list[int]:
    # A scan is fine in a test: the outbox has no index by event (nothing on a request path needs one).
    return sorted(int(item.id) for item in OutboxItem.scan(OutboxItem.event_id == event_id))


def later(minutes: int) -> None:
    """Move the event bus's clock past the sweeper's grace period."""
    get_deps().events.clock = lambda: utcnow() + timedelta(minutes=minutes)


@pytest.mark.parametrize("crash_at_call", [1, 2])
def test_a_fan_out_cut_short_is_finished_by_the_sweeper_without_a_second_notification(
    api: Api, monkeypatch: pytest.MonkeyPatch, crash_at_call: int
) -> None:
    first, second = create_channel(api, name="a"), create_channel(api, name="b", target="b@example.com")
    subscribe(api, [first["id"], second["id"]], ["key.*"])
    real_put = events_service.put_event_notification
    calls = {"n": 0}

    def dies_once(*args: Any) -> bool:
        calls["n"] += 1
        if calls["n"] == crash_at_call:
            raise RuntimeError("the process died here")  # after the marker, before the outbox write
        return bool(real_put(*args))

    monkeypatch.setattr(events_service, "put_event_notification", dies_once)
    assert api.post("/system/keys", {"name": "ci", "role": "viewer"}).status == 201  # never in the way
    (event,) = logged(api, "key.created")
    assert event["fanout"] == "pending"
    written_before = outbox_for(event["id"])
    assert len(written_before) == crash_at_call - 1

    assert get_deps().events.sweep() == 0  # not overdue yet
    later(minutes=5)
    assert get_deps().events.sweep() == 1
    assert get_deps().events.sweep() == 0  # done: nothing left to sweep

    (event,) = logged(api, "key.created")
    assert event["fanout"] == "done"
    made = outbox_for(event["id"])
    assert len(made) == 2 and set(written_before) <= set(made)
    assert sorted(event["notification_ids"]) == made
    channels = sorted(int(OutboxItem.get(nid).channel_id) for nid in made)
    assert channels == sorted([first["id"], second["id"]])
    assert pump_until_idle() == 2


def test_the_same_fact_emitted_twice_is_one_event(api: Api) -> None:
    channel = create_channel(api)
    subscribe(api, [channel["id"]], ["channel.*"])
    data = {"channel_id": channel["id"], "channel_name": "owner_email", "reason": "5 failures in a row"}
    first = emit("channel.disabled", data, key=f"channel:{channel['id']}:disabled:1")
    again = emit("channel.disabled", data, key=f"channel:{channel['id']}:disabled:1")
    assert first is not None and first == again
    (event,) = logged(api, "channel.disabled")
    assert len(event["notification_ids"]) == 1 and outbox_for(first) == event["notification_ids"]
    assert emit("channel.disabled", {"reason": "no channel_id"}) is None  # data that does not fit its schema
    assert emit("no.such.type", {}) is None


def test_when_the_event_log_refuses_an_event_the_action_succeeds_and_the_event_comes_through_the_queue(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = create_channel(api)
    subscribe(api, [channel["id"]], ["key.*", "maintenance.changed"])
    log = get_deps().events.log
    real_put = log.put_new

    def throttled(*args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("ProvisionedThroughputExceededException")

    monkeypatch.setattr(events_service, "DEFER_SECONDS", 0)
    monkeypatch.setattr(log, "put_new", throttled)
    assert api.post("/system/keys", {"name": "ci", "role": "viewer"}).status == 201
    assert api.post("/system/maintenance/state", {"mode": "read_only"}).status == 200
    assert logged(api, "key.created") == [] and logged(api, "maintenance.changed") == []

    records = sqs_records(visibility=0)  # seen once, visible again at once
    result = notification_worker.deliver(records)
    assert len(records) == 2 and len(result["batchItemFailures"]) == 2  # the table still refuses: retried later
    assert logged(api, "key.created") == []

    monkeypatch.setattr(log, "put_new", real_put)
    pump_until_idle()
    (created,) = logged(api, "key.created")
    (changed,) = logged(api, "maintenance.changed")
    assert created["data"]["name"] == "ci" and changed["data"]["mode"] == "read_only"
    assert len(created["notification_ids"]) == 1 and len(changed["notification_ids"]) == 1
    pump_until_idle()
    assert api.get(f"/system/notify/{created['notification_ids'][0]}").json["status"] == "sent"


def test_a_failed_notification_is_announced_but_a_failed_event_notification_is_not(api: Api) -> None:
    plain, hook = create_channel(api, name="plain"), create_channel(api, name="subscribed", target="s@example.com")
    subscribe(api, [hook["id"]], ["*"])
    assert api.post("/system/keys", {"name": "ci", "role": "viewer"}).status == 201  # key.created -> hook
    note = enqueue(api, plain["id"])
    for channel in (plain, hook):  # both deliveries now fail for good (an inactive channel)
        assert api.patch(f"/system/notify/channels/{channel['id']}", {"active": False}).status == 200
    pump_until_idle()

    failures = logged(api, "notification.failed")
    assert [event["data"]["notification_id"] for event in failures] == [note["id"]]
    data = failures[0]["data"]
    assert data["channel_id"] == plain["id"] and data["attempts"] == 1 and "inactive" in data["last_error"]


def test_emitting_reads_subscriptions_once_per_cache_bound_and_a_local_write_refreshes_them(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VALHALLA_CONFIG_CACHE_SECONDS", "300")
    reset_all()
    channel = create_channel(api)
    repo = get_deps().subscription_cache.repo
    reads = {"n": 0}
    real_all = repo.all

    def counted() -> Any:
        reads["n"] += 1
        return real_all()

    monkeypatch.setattr(repo, "all", counted)
    for number in range(5):
        emit("key.created", {"key_id": number + 1, "name": "k", "role": "viewer"})
    assert reads["n"] == 1
    subscribe(api, [channel["id"]], ["key.*"])  # a write in this container refreshes the cache at once
    emit("key.created", {"key_id": 9, "name": "k", "role": "viewer"})
    assert reads["n"] == 2
    assert len(logged(api, "key.created")[0]["notification_ids"]) == 1
