"""Rate limits: a channel's deliveries per second, an API key's requests per minute.

Channel: a token bucket in DynamoDB shared by every worker (see
:mod:`chalicelib.domain.ratelimit`); a worker leases a small block of tokens with one
conditional write and spends them locally for at most a second.

API key: a fixed one-minute window per key, counted with one conditional
``UpdateItem`` per block of requests a container leases (the only DynamoDB write the
limiter adds: one per request for limits up to 100 a minute, one per limit/100 above). If the table
cannot be written or read the request is let through (fails open) and the failure is
logged: an outage of the limiter must not take the API down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from chalicelib.clock import Clock
from chalicelib.domain.ratelimit import LEASE_SECONDS, KeyWindow, lease, minute_window
from chalicelib.logs import get_logger
from chalicelib.store.ratelimits import RateLimitRepo

LEASE_TRIES = 3


class ChannelRateLimiter:
    def __init__(
        self,
        clock: Clock,
        repository: RateLimitRepo | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.repository = repository or RateLimitRepo()
        self.monotonic = monotonic
        self._leased: dict[int, tuple[int, float]] = {}  # channel id -> (tokens left, usable until)
        self._lock = threading.Lock()

    def acquire(self, channel_id: int, rate: int) -> float:
        """Take one token: 0.0 when taken, else the seconds until one may be available."""
        with self._lock:
            left, until = self._leased.get(channel_id, (0, 0.0))
            if left > 0 and self.monotonic() < until:
                self._leased[channel_id] = (left - 1, until)
                return 0.0
        for _ in range(LEASE_TRIES):
            bucket = self.repository.bucket(channel_id)
            taken = lease(bucket, rate, self.clock().timestamp())
            if taken.granted < 1:
                return taken.wait_seconds
            if self.repository.replace_bucket(channel_id, bucket, taken.bucket):
                with self._lock:
                    self._leased[channel_id] = (taken.granted - 1, self.monotonic() + LEASE_SECONDS)
                return 0.0
        return 1.0 / rate  # other workers won every race: try again shortly


# An API key's requests are counted in blocks a container leases: one write per block.
# A limit of 100 or less is counted request by request (exact); a larger one in blocks of
# a hundredth of it, at most LEASE_BLOCK_MAX, so a container can hold back at most 1 % of
# a key's minute from the others.
LEASE_BLOCK_MAX = 100


def lease_block(limit: int) -> int:
    return max(1, min(LEASE_BLOCK_MAX, limit // 100))


class ApiRateLimiter:
    def __init__(self, clock: Clock, default_per_minute: int, repository: RateLimitRepo | None = None) -> None:
        self.clock = clock
        self.default_per_minute = default_per_minute
        self.repository = repository or RateLimitRepo()
        # key id -> (window start, the window's count after this container's last lease, requests left in it)
        self._leases: dict[int, tuple[int, int, int]] = {}
        self._lock = threading.Lock()

    def count(self, key_id: int, limit: int | None) -> KeyWindow:
        limit = limit or self.default_per_minute
        now = self.clock().timestamp()
        start, end = minute_window(now)
        with self._lock:
            window, counted, left = self._leases.get(key_id, (0, 0, 0))
            if window == start and left > 0:
                self._leases[key_id] = (window, counted, left - 1)
                return KeyWindow(limit, counted - (left - 1), end)
        block = lease_block(limit)
        try:
            counted = self.repository.count_request(key_id, start, limit, block)
            if counted > limit and block > 1:  # near the limit: what is left, one at a time
                block = 1
                counted = self.repository.count_request(key_id, start, limit, block)
        except Exception as exc:  # fail open: the limiter's table is unavailable
            get_logger().warning(
                "API rate limiter unavailable; request let through",
                extra={"key_id": key_id, "error": f"{type(exc).__name__}: {exc}"},
            )
            return KeyWindow(limit, 0, end)
        if counted > limit:
            return KeyWindow(limit, counted, end)
        with self._lock:
            self._leases[key_id] = (start, counted, block - 1)
        return KeyWindow(limit, counted - (block - 1), end)
