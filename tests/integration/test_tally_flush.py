"""A delivery worker holds its analytics and its channels' success tallies for a few
seconds and writes them once: while batches come full (the queue has more), at most every
``VALHALLA_TALLY_FLUSH_SECONDS``; at once when a batch was not full (the queue is draining)
or carried a failure. What an operator reads is then complete once the queue is idle."""

from __future__ import annotations

import pytest

from chalicelib.deps import get_deps
from chalicelib.workers import notifications as worker
from tests.notify_support import create_channel, enqueue, pump_once
from tests.support import Api, reset_all


class _Ticking:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _sent(api: Api, channel_id: int) -> int:
    reply = api.get(f"/system/stats/deliveries?granularity=minute&channel_id={channel_id}")
    assert reply.status == 200, reply.json
    return int(reply.json["totals"]["sent"])


def _attempts_in_window(api: Api, channel_id: int) -> int:
    reply = api.get(f"/system/notify/channels/{channel_id}/health")
    assert reply.status == 200, reply.json
    return int(reply.json["attempts_in_window"])


def _enqueue(api: Api, channel_id: int, count: int) -> None:
    for index in range(count):
        enqueue(api, channel_id, subject=f"Tally {index}")


def test_a_full_batch_is_held_and_the_draining_batch_writes_everything(api: Api) -> None:
    channel = create_channel(api)
    _enqueue(api, channel["id"], worker.BATCH_SIZE + 1)

    full = pump_once()
    assert full["records"] == worker.BATCH_SIZE and not full["batchItemFailures"]
    assert api.get(f"/system/notify/?channel_id={channel['id']}&status=sent").json["items"]  # delivered...
    assert _sent(api, channel["id"]) == 0  # ...but the analytics wait for more
    assert _attempts_in_window(api, channel["id"]) == 0

    last = pump_once()
    assert last["records"] == 1
    assert _sent(api, channel["id"]) == worker.BATCH_SIZE + 1  # one write carried both batches
    assert _attempts_in_window(api, channel["id"]) == worker.BATCH_SIZE + 1


def test_full_batches_write_once_the_hold_has_lasted_the_flush_interval(api: Api) -> None:
    deps = get_deps()
    ticking = _Ticking()
    deps.stats.monotonic = ticking
    deps.channel_health.monotonic = ticking
    channel = create_channel(api)
    _enqueue(api, channel["id"], 2 * worker.BATCH_SIZE)

    assert pump_once()["records"] == worker.BATCH_SIZE
    assert _sent(api, channel["id"]) == 0
    ticking.now += deps.settings.tally_flush_seconds  # the next full batch finds the hold old enough
    assert pump_once()["records"] == worker.BATCH_SIZE
    assert _sent(api, channel["id"]) == 2 * worker.BATCH_SIZE
    assert _attempts_in_window(api, channel["id"]) == 2 * worker.BATCH_SIZE


def test_a_failure_is_written_with_its_batch_even_when_the_batch_was_full(api: Api) -> None:
    health = get_deps().channel_health
    channel = create_channel(api)
    health.observe(channel["id"], success=True)
    health.flush(draining=False)
    assert _attempts_in_window(api, channel["id"]) == 0  # successes only: held

    health.observe(channel["id"], success=False)
    health.flush(draining=False)
    assert _attempts_in_window(api, channel["id"]) == 2  # the failure, and the success held before it


def test_zero_seconds_writes_after_every_batch(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALHALLA_TALLY_FLUSH_SECONDS", "0")
    reset_all()  # settings and services read again
    channel = create_channel(api)
    _enqueue(api, channel["id"], worker.BATCH_SIZE)
    assert pump_once()["records"] == worker.BATCH_SIZE
    assert _sent(api, channel["id"]) == worker.BATCH_SIZE
    assert _attempts_in_window(api, channel["id"]) == worker.BATCH_SIZE


def test_what_a_worker_holds_is_written_on_request_as_the_local_stack_does_when_idle(api: Api) -> None:
    channel = create_channel(api)
    _enqueue(api, channel["id"], worker.BATCH_SIZE)
    assert pump_once()["records"] == worker.BATCH_SIZE
    assert _sent(api, channel["id"]) == 0

    worker.write_held_tallies()

    assert _sent(api, channel["id"]) == worker.BATCH_SIZE
    assert _attempts_in_window(api, channel["id"]) == worker.BATCH_SIZE


def test_the_worker_knows_the_batch_size_the_app_subscribes_with() -> None:
    from app import app

    (source,) = [s for s in app.event_sources if s.handler_string == "app.deliver_notifications"]
    assert source.batch_size == worker.BATCH_SIZE  # else every batch would look "draining" (or none)


def test_once_the_oldest_tally_is_due_every_channel_held_goes_in_the_same_write(api: Api) -> None:
    health = get_deps().channel_health
    ticking = _Ticking()
    health.monotonic = ticking
    early, late = create_channel(api), create_channel(api, name="late")
    health.observe(early["id"], success=True)
    health.flush(draining=False)
    ticking.now += health.hold_seconds / 2
    health.observe(late["id"], success=True)
    health.flush(draining=False)
    assert (_attempts_in_window(api, early["id"]), _attempts_in_window(api, late["id"])) == (0, 0)

    ticking.now += health.hold_seconds / 2  # the early one is due; the late one only half
    health.flush(draining=False)
    assert (_attempts_in_window(api, early["id"]), _attempts_in_window(api, late["id"])) == (1, 1)
