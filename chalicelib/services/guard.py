"""The delivery guard: what the circuit breaker and the channel's rate limit say about one delivery.

The delivery service asks :meth:`DeliveryGuard.admit` after claiming an item and before
sending it. ``defer`` means: release the item, not attempted and not counted, and let
its SQS message come back after ``delay`` seconds (its visibility timeout). A rate
limit whose next token is a moment away is waited for in the worker (at most
:data:`MAX_TOKEN_WAIT_SECONDS`) rather than paying for another receive.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from chalicelib.channels.base import Delivered, DeliveryFailed
from chalicelib.clock import Clock
from chalicelib.domain.health import admission
from chalicelib.services.health import ChannelHealth

MAX_TOKEN_WAIT_SECONDS = 2.0
RETRY_AFTER_STATUSES = frozenset({429, 503})


class RateLimiter(Protocol):
    def acquire(self, channel_id: int, rate: int) -> float:
        """Take one token: 0.0 when taken, else the seconds until one may be available."""
        ...


@dataclass(frozen=True)
class Gate:
    kind: str  # send | probe | defer
    delay: int = 0
    reason: str = ""


class DeliveryGuard:
    def __init__(
        self,
        health: ChannelHealth,
        clock: Clock,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: random.Random | None = None,
    ) -> None:
        self.health = health
        self.limiter = limiter
        self.clock = clock
        self.sleep = sleep
        self.rand = rand or random.Random()

    def _defer(self, until: datetime | None, now: datetime, reason: str) -> Gate:
        seconds = (until - now).total_seconds() if until is not None else 1.0
        return Gate("defer", max(1, math.ceil(seconds)) + self.rand.randint(0, 1), reason)

    def admit(self, channel_id: int, rate_limit_per_second: int | None) -> Gate:
        now = self.clock()
        decision = admission(self.health.state(channel_id), now)
        if decision.kind == "defer":
            return self._defer(decision.until, now, decision.reason)
        # "disabled" with an active channel: an admin switched it back on by PATCH; let it prove itself.
        if rate_limit_per_second and self.limiter is not None:
            waited = 0.0
            while (wait := self.limiter.acquire(channel_id, rate_limit_per_second)) > 0:
                if waited + wait > MAX_TOKEN_WAIT_SECONDS:
                    return Gate("defer", max(1, math.ceil(wait)) + self.rand.randint(0, 2), "rate limit")
                self.sleep(wait)
                waited += wait
        if decision.kind == "probe":
            claimed = self.health.admit(channel_id)
            if claimed.kind != "probe":
                return self._defer(claimed.until, self.clock(), claimed.reason)
            return Gate("probe")
        return Gate("send")

    def observe(self, channel_id: int, gate: Gate, result: Delivered | DeliveryFailed) -> None:
        success = isinstance(result, Delivered)
        retry_after = None
        if isinstance(result, DeliveryFailed) and result.http_status in RETRY_AFTER_STATUSES:
            retry_after = result.retry_after
        self.health.observe(channel_id, success, retry_after, probe=gate.kind == "probe")

    def flush(self, draining: bool = True) -> None:
        self.health.flush(draining)
