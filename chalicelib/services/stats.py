"""Delivery and export analytics, maintained as work happens.

:class:`StatsRecorder` is called once per delivery batch, once per enqueue or retry and
once per finished export; it adds to the aggregate rows of :mod:`chalicelib.store.stats`
(a batch becomes one ``UpdateItem`` per row it touches, never one per notification).
:class:`StatsReader` (in :mod:`chalicelib.services.stats_read`) answers the endpoints from
those rows. A failed aggregate write is logged and dropped: analytics never stop a delivery.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol

from chalicelib.clock import Clock, isoformat
from chalicelib.domain.delivery import DeliveryOutcome as Outcome
from chalicelib.domain.stats import (
    DURATION_BOUNDS_S,
    LATENCY_BOUNDS_MS,
    Granularity,
    bucket_index,
    bucket_key,
)
from chalicelib.logs import get_logger
from chalicelib.store.stats import Increment, StatsTable

ALL = "all"
DELIVERY_OUTCOMES = (Outcome.sent, Outcome.failed, Outcome.retry)


class DeliveryOutcome(Protocol):
    """What the recorder needs of one attempt (a ``DeliveryReport`` has these fields)."""

    @property
    def outcome(self) -> str: ...

    @property
    def channel_id(self) -> int | None: ...

    @property
    def latency_ms(self) -> float | None: ...


def delivery_pk(granularity: Granularity, scope: str, partition: str, shard: int) -> str:
    return f"dlv#{granularity.code}#{scope}#{partition}#{shard}"


def export_pk(start: datetime) -> str:
    return f"exp#{start.strftime('%Y-%m')}"


def export_sk(start: datetime, job_type: str) -> str:
    return f"{start.strftime('%Y-%m-%dT%H')}#{job_type}"


class StatsRecorder:
    def __init__(
        self,
        table: StatsTable,
        clock: Clock,
        shards: int,
        rand: Callable[[int, int], int] = random.randint,
    ) -> None:
        self.table = table
        self.clock = clock
        self.shards = shards
        self.rand = rand

    # --- deliveries ---------------------------------------------------------------

    def record_deliveries(self, outcomes: Iterable[DeliveryOutcome]) -> int:
        """Add one batch's attempts; returns the rows written (0 when nothing was attempted)."""
        attempts: list[DeliveryOutcome] = [
            item for item in outcomes if item.outcome in DELIVERY_OUTCOMES and item.channel_id is not None
        ]
        if not attempts:
            return 0
        try:
            increments = self.delivery_increments(attempts, self.clock())
            self.table.add_all(increments)
            return len(increments)
        except Exception as exc:
            get_logger().warning("delivery stats not recorded", extra={"error": f"{type(exc).__name__}: {exc}"})
            return 0

    def delivery_increments(self, attempts: list[DeliveryOutcome], now: datetime) -> list[Increment]:
        per_scope: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for attempt in attempts:
            channel = int(attempt.channel_id or 0)
            for scope in (str(channel), ALL):
                counts = per_scope[scope]
                counts["attempts"] += 1
                if attempt.outcome == Outcome.retry:
                    counts["retries"] += 1
                else:
                    counts[attempt.outcome] += 1
                if attempt.outcome == Outcome.sent and attempt.latency_ms is not None:
                    counts[f"h{bucket_index(attempt.latency_ms, LATENCY_BOUNDS_MS)}"] += 1
        shard = self.rand(0, self.shards - 1)
        increments = []
        for granularity in Granularity:
            start = granularity.floor(now)
            for scope, counts in per_scope.items():
                increments.append(
                    Increment(
                        delivery_pk(granularity, scope, granularity.partition_key(start), shard),
                        bucket_key(start),
                        dict(counts),
                        isoformat(start + granularity.step),
                    )
                )
        return increments

    # --- exports --------------------------------------------------------------------

    def record_export(
        self, job_type: str, status: str, rows: int = 0, size: int = 0, duration_seconds: float | None = None
    ) -> None:
        """A built-in export job finished (``completed`` or ``failed``)."""
        try:
            now = self.clock()
            hour = Granularity.hour.floor(now)
            counts: dict[str, float] = {status: 1}
            if status == "completed":
                counts.update({"rows": rows, "bytes": size})
                if duration_seconds is not None:
                    counts["seconds"] = max(duration_seconds, 0.001)
                    counts[f"h{bucket_index(duration_seconds, DURATION_BOUNDS_S)}"] = 1
            ends = isoformat(hour + Granularity.hour.step)
            self.table.add(Increment(export_pk(hour), export_sk(hour, job_type), counts, ends))
        except Exception as exc:
            get_logger().warning("export stats not recorded", extra={"error": f"{type(exc).__name__}: {exc}"})
