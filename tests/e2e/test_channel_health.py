"""Channel health and rate limits through the local stack, over HTTP, with small settings."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

import pytest

from chalicelib.local.process import StackProcess
from tests.e2e.stack_support import FAST_ENV, Stack, wait_until
from tests.webhook_receiver import Response, WebhookReceiver

BREAKER_ENV = {
    **FAST_ENV,
    "VALHALLA_BREAKER_MIN_ATTEMPTS": "3",
    "VALHALLA_BREAKER_FAILURE_RATE": "0.7",
    "VALHALLA_BREAKER_WINDOW_SECONDS": "60",
    "VALHALLA_BREAKER_COOLDOWN_SECONDS": "4",
    "VALHALLA_BREAKER_MAX_COOLDOWN_SECONDS": "8",
    "VALHALLA_API_RATE_LIMIT_PER_MINUTE": "100000",
}
LAG = 2.0  # seconds after the breaker opens before the receiver must see nothing
DISABLE_ENV = {
    **FAST_ENV,
    "VALHALLA_BREAKER_MIN_ATTEMPTS": "1000",
    "VALHALLA_AUTO_DISABLE_AFTER_SECONDS": "3",
    "VALHALLA_API_RATE_LIMIT_PER_MINUTE": "100000",
}


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with StackProcess(env=BREAKER_ENV) as process:
        yield Stack(process)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


def epoch(stamp: object) -> float:
    return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()


def test_the_breaker_opens_defers_probes_once_and_closes_on_recovery(stack: Stack, receiver: WebhookReceiver) -> None:
    # GIVEN a receiver that fails every request
    receiver.default = Response(500, body=b"down")
    channel = stack.webhook_channel("breaker-e2e", receiver.url())
    assert stack.health(channel)["state"] == "healthy"
    ids = stack.notify(channel, 4)

    # WHEN failures reach the minimum attempts, THEN the breaker opens
    opened = wait_until(lambda: (h := stack.health(channel))["state"] == "open" and h, 20, "the breaker to open")
    assert opened["attempts_in_window"] >= 3 and opened["failure_rate"] >= 0.7
    # (two workers' batches may each count part of the failures: the window holds them all)
    assert opened["opened_at"] and opened["next_probe_at"] and opened["consecutive_failures"] >= 1

    # THEN after the cool-down exactly one probe goes through, fails, and reopens it for longer
    reopened = wait_until(
        lambda: (h := stack.health(channel))["state"] == "open" and h["opened_at"] != opened["opened_at"] and h,
        20,
        "the breaker to reopen",
    )
    assert epoch(reopened["next_probe_at"]) - epoch(reopened["opened_at"]) == 8  # the cool-down doubled (4 s)
    assert set(stack.statuses(ids)) == {"pending"}  # deferred, not failed: deferrals are not attempts
    # AND while it was open the receiver got nothing (a worker's cached state lags at most a second,
    # and a send admitted just before the breaker opened may still be on its way: LAG)
    arrived = [request.at for request in receiver.requests]
    assert not [at for at in arrived if epoch(opened["opened_at"]) + LAG < at < epoch(opened["next_probe_at"])]
    probes = [at for at in arrived if epoch(opened["next_probe_at"]) <= at <= epoch(reopened["opened_at"])]
    assert len(probes) == 1

    # WHEN the receiver recovers, the next probe closes the breaker and everything is delivered
    receiver.default = Response(200)
    wait_until(lambda: set(stack.statuses(ids)) == {"sent"}, 30, "every notification to be sent")
    # none before the second cool-down ended: the next probe was the first request to get through
    quiet = (epoch(reopened["opened_at"]) + LAG, epoch(reopened["next_probe_at"]))
    assert not [r for r in receiver.requests if quiet[0] < r.at < quiet[1]]
    closed = stack.health(channel)
    assert closed["state"] == "healthy" and closed["consecutive_failures"] == 0
    assert closed["opened_at"] is None and closed["next_probe_at"] is None


def test_a_channel_limited_to_5_per_second_is_sent_50_notifications_at_that_pace(
    stack: Stack, receiver: WebhookReceiver
) -> None:
    channel = stack.webhook_channel("limited-e2e", receiver.url(), rate_limit_per_second=5)
    assert stack.ok("GET", f"/system/notify/channels/{channel}")["rate_limit_per_second"] == 5
    ids = stack.notify(channel, 50)
    arrived = sorted(request.at for request in receiver.wait_for(50, timeout=60))
    assert arrived[-1] - arrived[0] >= 9.0  # 5 at once (the burst), then 45 at 5 a second
    # counted at the receiver: no one-second window (starting at any request) holds more than 10
    busiest = max(sum(1 for moment in arrived if start <= moment < start + 1.0) for start in arrived)
    assert busiest <= 10
    wait_until(lambda: set(stack.statuses(ids[-3:])) == {"sent"}, 10, "the last ones to be recorded")
    assert len(receiver.requests) == 50  # over the limit means deferred, never attempted and failed


def test_a_key_limited_to_10_a_minute_gets_429_on_its_11th_request(stack: Stack) -> None:
    key = stack.ok("POST", "/system/keys", {"name": "limited-e2e", "role": "viewer", "rate_limit_per_minute": 10}, 201)
    assert key["rate_limit_per_minute"] == 10
    health = stack.call("GET", "/system/health", token=key["token"])
    assert "x-ratelimit-limit" not in health.headers  # the health check is exempt
    first = stack.call("GET", "/system/notify/channels", token=key["token"])
    if int(first.headers["x-ratelimit-reset"]) - time.time() < 10:  # do not straddle a minute
        time.sleep(max(0.0, int(first.headers["x-ratelimit-reset"]) - time.time()) + 0.5)
        first = stack.call("GET", "/system/notify/channels", token=key["token"])
    replies = [first] + [stack.call("GET", "/system/notify/channels", token=key["token"]) for _ in range(9)]
    assert [reply.status for reply in replies] == [200] * 10
    assert [reply.headers["x-ratelimit-remaining"] for reply in replies] == [str(n) for n in range(9, -1, -1)]
    assert {reply.headers["x-ratelimit-limit"] for reply in replies} == {"10"}

    refused = stack.call("GET", "/system/notify/channels", token=key["token"])
    assert refused.status == 429
    assert refused.body["status_code"] == 429 and "10 requests a minute" in refused.body["detail"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-remaining"] == "0" and refused.headers["x-ratelimit-limit"] == "10"
    assert int(refused.headers["x-ratelimit-reset"]) == int(first.headers["x-ratelimit-reset"])


def test_a_channel_failing_past_the_auto_disable_time_is_disabled_then_enabled(receiver: WebhookReceiver) -> None:
    receiver.default = Response(500, body=b"down")
    with StackProcess(env=DISABLE_ENV) as process:
        stack = Stack(process)
        channel = stack.webhook_channel("disable-e2e", receiver.url())
        ids = stack.notify(channel, 2)

        disabled = wait_until(
            lambda: (h := stack.health(channel))["state"] == "disabled" and h, 30, "the channel to be disabled"
        )
        assert disabled["disabled_at"] and "failing without a success since" in disabled["disabled_reason"]
        assert stack.ok("GET", f"/system/notify/channels/{channel}")["active"] is False
        # Its pending notifications fail with a clear last_error (replay them once it is fixed).
        wait_until(lambda: set(stack.statuses(ids)) == {"failed"}, 20, "pending notifications to fail")
        errors = {stack.ok("GET", f"/system/notify/{i}")["last_error"] for i in ids}
        assert all("disabled by its health check" in error for error in errors), errors
        assert stack.call("POST", "/system/notify", {"channel_id": channel, "subject": "s", "body": "b"}).status == 409

        viewer = stack.ok("POST", "/system/keys", {"name": "viewer-e2e", "role": "viewer"}, 201)["token"]
        assert stack.call("POST", f"/system/notify/channels/{channel}/enable", token=viewer).status == 403
        enabled = stack.ok("POST", f"/system/notify/channels/{channel}/enable")
        assert enabled["state"] == "healthy" and enabled["disabled_reason"] is None
        assert enabled["attempts_in_window"] == 0 and enabled["consecutive_failures"] == 0
        assert stack.ok("GET", f"/system/notify/channels/{channel}")["active"] is True

        receiver.default = Response(200)
        [fresh] = stack.notify(channel)
        wait_until(lambda: stack.statuses([fresh]) == ["sent"], 20, "a notification after enabling")


def test_failed_notifications_replayed_after_fixing_the_receiver_are_all_sent(
    stack: Stack, receiver: WebhookReceiver
) -> None:
    receiver.default = Response(400, body=b"bad config")  # permanent: failed at the first attempt
    channel = stack.webhook_channel("replay-e2e", receiver.url())
    ids = stack.notify(channel, 5)
    wait_until(lambda: set(stack.statuses(ids)) == {"failed"}, 30, "the notifications to fail")

    receiver.default = Response(200)
    now = time.time()
    window = {
        "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600)),
        "until": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 600)),
    }
    replay = stack.ok("POST", "/system/notify/replays", {"channel_id": channel, "status": ["failed"], **window}, 202)
    done = wait_until(
        lambda: (r := stack.ok("GET", f"/system/notify/replays/{replay['id']}"))["status"] == "completed" and r,
        30,
        "the replay to complete",
    )
    assert (done["matched"], done["replayed"]) == (5, 5)
    wait_until(lambda: set(stack.statuses(ids)) == {"sent"}, 30, "the replayed notifications to be sent")
    assert len(receiver.requests) == 10
