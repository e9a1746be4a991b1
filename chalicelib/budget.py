"""How much of an invocation is left for work: the one budget of every queue and schedule handler."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol


class Budget(Protocol):
    """How much of this invocation is left for work."""

    def exhausted(self) -> bool: ...

    def seconds_left(self) -> float: ...


class LambdaBudget:
    """The Lambda's remaining time, minus a reserve to save the position and re-enqueue."""

    def __init__(self, remaining_ms: Callable[[], float], reserve_seconds: float) -> None:
        self.remaining_ms = remaining_ms
        # Never reserve more than a fifth of what the invocation started with (no reserve: not asked).
        self.reserve_ms = 0.0 if reserve_seconds <= 0 else min(reserve_seconds * 1000.0, max(0.0, remaining_ms()) * 0.2)

    @classmethod
    def from_context(cls, context: Any, reserve_seconds: float, default_seconds: float = 60.0) -> LambdaBudget:
        if context is not None and hasattr(context, "get_remaining_time_in_millis"):
            return cls(context.get_remaining_time_in_millis, reserve_seconds)
        deadline = time.monotonic() + default_seconds
        return cls(lambda: (deadline - time.monotonic()) * 1000.0, reserve_seconds)

    def exhausted(self) -> bool:
        return self.remaining_ms() <= self.reserve_ms

    def seconds_left(self) -> float:
        return max(0.0, self.remaining_ms() / 1000.0)

    @classmethod
    def of(cls, budget: Budget | Callable[[], float]) -> Budget:
        """A budget, also from a bare "milliseconds left" function (no reserve)."""
        return budget if hasattr(budget, "seconds_left") else cls(budget, 0.0)  # type: ignore[arg-type,return-value]


class BatchBudget:
    """At most ``batches`` delete batches per invocation (tests, simulations)."""

    def __init__(self, batches: int, seconds: float = 900.0) -> None:
        self.left = batches
        self.seconds = seconds

    def exhausted(self) -> bool:
        self.left -= 1
        return self.left <= 0

    def seconds_left(self) -> float:
        return self.seconds


class Unlimited:
    def exhausted(self) -> bool:
        return False

    def seconds_left(self) -> float:
        return 900.0
