"""Rate limits over HTTP (Chalice test client, moto): a channel's deliveries a second, an API key's
requests a minute."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from chalicelib.clock import FixedClock
from chalicelib.deps import get_deps
from chalicelib.domain.ratelimit import Bucket
from chalicelib.services.ratelimit import ApiRateLimiter
from chalicelib.store.ratelimits import RateLimitRepo
from tests.notify_support import create_channel, enqueue, pump_once
from tests.support import Api
from tests.webhook_receiver import WebhookReceiver


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    monkeypatch.setenv("VALHALLA_ALLOW_PRIVATE_WEBHOOK_TARGETS", "true")
    with WebhookReceiver() as running:
        yield running


def test_rate_limit_per_second_is_set_on_create_changed_by_patch_and_cleared_with_null(api: Api) -> None:
    channel = create_channel(api, rate_limit_per_second=5)
    assert channel["rate_limit_per_second"] == 5
    path = f"/system/notify/channels/{channel['id']}"
    assert api.patch(path, {"rate_limit_per_second": 20}).json["rate_limit_per_second"] == 20
    assert api.get(path).json["rate_limit_per_second"] == 20
    assert api.patch(path, {"rate_limit_per_second": None}).json["rate_limit_per_second"] is None
    assert api.get(path).json["rate_limit_per_second"] is None
    assert create_channel(api, name="unlimited")["rate_limit_per_second"] is None


@pytest.mark.parametrize("bad", [0, -1, "fast", 1.5, 10_001])
def test_a_bad_rate_limit_is_refused_and_nothing_is_written(api: Api, bad: object) -> None:
    created = api.post(
        "/system/notify/channels",
        {"name": "limited", "channel_type": "email", "target": "a@example.com", "rate_limit_per_second": bad},
    )
    assert created.status == 422 and created.json["detail"][0]["loc"] == ["body", "rate_limit_per_second"]
    assert api.get("/system/notify/channels").json["items"] == []


def test_a_delivery_over_the_channel_limit_is_deferred_unattempted(receiver: WebhookReceiver, api: Api) -> None:
    channel = create_channel(api, name="hook", channel_type="webhook", target=receiver.url(), rate_limit_per_second=1)
    # GIVEN a bucket that other workers emptied: its next token is a minute away (a worker waits 2 s at most)
    RateLimitRepo().replace_bucket(channel["id"], None, Bucket(-60.0, time.time()))
    notification = enqueue(api, channel["id"])["id"]
    result = pump_once()
    assert len(result["batchItemFailures"]) == 1  # back on the queue after the wait
    assert receiver.requests == []
    detail = api.get(f"/system/notify/{notification}").json
    assert detail["status"] == "pending" and detail["attempts"] == 0 and detail["history"] == []


def test_every_response_carries_the_key_limit_and_the_11th_request_gets_429(api: Api) -> None:
    deps = get_deps()
    deps.clock = FixedClock(datetime(2026, 12, 1, 12, 0, 30, tzinfo=UTC))
    deps.__dict__["api_rate_limiter"] = ApiRateLimiter(deps.clock, default_per_minute=600)
    created = api.post("/system/keys", {"name": "ten", "role": "viewer", "rate_limit_per_minute": 10})
    assert created.status == 201 and created.json["rate_limit_per_minute"] == 10
    assert created.headers["x-ratelimit-limit"] == "600"  # the admin key has the default
    limited = api.as_(created.json["token"])
    replies = [limited.get("/system/notify/channels") for _ in range(10)]
    assert [reply.status for reply in replies] == [200] * 10
    assert [reply.headers["x-ratelimit-remaining"] for reply in replies] == [str(n) for n in range(9, -1, -1)]
    reset = str(int(datetime(2026, 12, 1, 12, 1, tzinfo=UTC).timestamp()))
    assert {reply.headers["x-ratelimit-reset"] for reply in replies} == {reset}

    refused = limited.get("/system/notify/channels")
    assert refused.status == 429 and refused.json["status_code"] == 429
    assert "10 requests a minute" in refused.json["detail"]
    assert refused.headers["retry-after"] == "30" and refused.headers["x-ratelimit-remaining"] == "0"
    assert refused.headers["x-ratelimit-limit"] == "10" and refused.headers["x-ratelimit-reset"] == reset
    assert api.get("/system/health").headers.get("x-ratelimit-limit") is None  # the health check is exempt

    deps.clock.advance(seconds=30)  # type: ignore[attr-defined]
    assert limited.get("/system/notify/channels").status == 200  # a new minute


def test_the_key_limit_fails_open_when_its_table_cannot_be_written(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("table unavailable")

    monkeypatch.setattr(RateLimitRepo, "count_request", broken)
    reply = api.get("/system/notify/channels")
    assert reply.status == 200 and reply.headers["x-ratelimit-remaining"] == reply.headers["x-ratelimit-limit"]


def counting_writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The block size of every count the limiter writes (the real write still happens)."""
    blocks: list[int] = []
    real = RateLimitRepo.count_request

    def count_request(self: RateLimitRepo, key_id: int, window_start: int, limit: int, block: int = 1) -> int:
        blocks.append(block)
        return real(self, key_id, window_start, limit, block)

    monkeypatch.setattr(RateLimitRepo, "count_request", count_request)
    return blocks


def test_a_busy_key_is_counted_in_leased_blocks_and_its_headers_still_count_down(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    deps = get_deps()
    deps.clock = FixedClock(datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC))
    deps.__dict__["api_rate_limiter"] = ApiRateLimiter(deps.clock, default_per_minute=600)
    created = api.post("/system/keys", {"name": "busy", "role": "viewer", "rate_limit_per_minute": 1000})
    busy = api.as_(created.json["token"])
    blocks = counting_writes(monkeypatch)
    replies = [busy.get("/system/notify/channels") for _ in range(25)]
    assert [reply.status for reply in replies] == [200] * 25
    assert blocks == [10, 10, 10]  # one write per 10 requests (a hundredth of the limit), not 25
    assert [int(reply.headers["x-ratelimit-remaining"]) for reply in replies] == list(range(999, 974, -1))


def test_near_its_limit_a_leasing_key_is_counted_one_by_one_and_never_passes_it(aws: None) -> None:
    limiter = ApiRateLimiter(FixedClock(datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)), default_per_minute=600)
    other_container = ApiRateLimiter(limiter.clock, default_per_minute=600)
    windows = [(limiter if n % 2 else other_container).count(7, 201) for n in range(230)]
    allowed = [window for window in windows if window.allowed]
    assert len(allowed) == 201  # two containers, blocks of 2: the last request fits one at a time
    assert not any(window.allowed for window in windows[201:])
