"""Rate-limit arithmetic, pure: the channel token bucket and the API key's minute window.

A channel limited to ``rate`` per second has a bucket of ``rate`` tokens (the burst)
refilled at ``rate`` a second. Workers lease tokens from the shared bucket in small
blocks (:func:`lease_size`) so that a busy channel costs one write per block, not one
per delivery; a leased token that is not used within :data:`LEASE_SECONDS` is dropped,
so the receiver never sees more than the burst plus the rate in any second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LEASE_SECONDS = 1.0
BLOCKS_PER_SECOND = 10  # a channel's bucket takes at most about this many lease writes a second
MAX_RATE_PER_SECOND = 10_000
MAX_RATE_PER_MINUTE = 60_000  # one key's window item takes at most 1,000 writes a second


@dataclass(frozen=True)
class Bucket:
    tokens: float
    stamp: float  # epoch seconds of the last lease


@dataclass(frozen=True)
class Lease:
    granted: int  # tokens taken (0: none available)
    bucket: Bucket  # the bucket after the lease
    wait_seconds: float  # when none were granted: until one token is available


def lease_size(rate: int) -> int:
    return max(1, rate // BLOCKS_PER_SECOND)


def available(bucket: Bucket | None, rate: int, now: float) -> float:
    """Tokens in the bucket at ``now``: a new bucket starts full; it never holds more than ``rate``."""
    if bucket is None:
        return float(rate)
    elapsed = max(0.0, now - bucket.stamp)
    return min(float(rate), bucket.tokens + elapsed * rate)


def lease(bucket: Bucket | None, rate: int, now: float) -> Lease:
    tokens = available(bucket, rate, now)
    granted = min(lease_size(rate), math.floor(tokens))
    if granted < 1:
        return Lease(0, Bucket(tokens, now), wait_seconds=(1.0 - tokens) / rate)
    return Lease(granted, Bucket(tokens - granted, now), wait_seconds=0.0)


@dataclass(frozen=True)
class KeyWindow:
    """One API key's fixed one-minute window."""

    limit: int
    used: int  # requests counted in this window, this one included
    reset_epoch: int  # when the window ends

    @property
    def allowed(self) -> bool:
        return self.used <= self.limit

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def retry_after(self, now: float) -> int:
        return max(1, math.ceil(self.reset_epoch - now))


def minute_window(now: float) -> tuple[int, int]:
    """(window start, window end) in epoch seconds."""
    start = int(now // 60) * 60
    return start, start + 60
