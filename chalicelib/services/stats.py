"""Delivery and export analytics, maintained as work happens.

:class:`StatsRecorder` adds each delivery batch's outcomes to the container's tallies and
writes them to the aggregate rows of :mod:`chalicelib.store.stats` at most every
``VALHALLA_TALLY_FLUSH_SECONDS`` (one ``UpdateItem`` per row touched since the last
write, never one per notification or per channel: channels share a row per group), and
at once when a batch was not full: the queue is draining, so no later batch may come to
carry the tallies out. A container's rows are its own copy (one shard per container), so
a row is created once and then added to.
:class:`StatsReader` (in :mod:`chalicelib.services.stats_read`) answers the endpoints from
those rows. A failed aggregate write is logged and dropped: analytics never stop a delivery.
"""

from __future__ import annotations

import random
import threading
import time
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
from chalicelib.store.stats import ALL, Increment, StatsTable, channel_counter, channel_group, delivery_pk

DELIVERY_OUTCOMES = (Outcome.sent, Outcome.failed, Outcome.retry)


class AttemptReport(Protocol):
    """What the recorder needs of one attempt (a ``DeliveryReport`` has these fields)."""

    @property
    def outcome(self) -> str: ...

    @property
    def channel_id(self) -> int | None: ...

    @property
    def latency_ms(self) -> float | None: ...


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
        flush_seconds: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.table = table
        self.clock = clock
        self.shard = rand(0, shards - 1)  # this container's copy of every row it writes
        self.flush_seconds = flush_seconds
        self.monotonic = monotonic
        self._held: dict[tuple[str, str], Increment] = {}
        self._held_since: float | None = None
        self._lock = threading.Lock()

    # --- deliveries ---------------------------------------------------------------

    def record_deliveries(self, outcomes: Iterable[AttemptReport], *, draining: bool = True) -> int:
        """Add one batch's attempts; returns the rows written now (0 while they are held).

        ``draining``: the batch was not full, so write everything held at once.
        """
        attempts: list[AttemptReport] = [
            item for item in outcomes if item.outcome in DELIVERY_OUTCOMES and item.channel_id is not None
        ]
        if attempts:
            self._hold(self.delivery_increments(attempts, self.clock()))
        with self._lock:
            since = self._held_since
        if since is None:
            return 0
        if draining or self.monotonic() - since >= self.flush_seconds:
            return self.flush()
        return 0

    def flush(self) -> int:
        """Write every row held; returns how many."""
        with self._lock:
            held, self._held, self._held_since = list(self._held.values()), {}, None
        try:
            self.table.add_all(held)
            return len(held)
        except Exception as exc:
            get_logger().warning("delivery stats not recorded", extra={"error": f"{type(exc).__name__}: {exc}"})
            return 0

    def _hold(self, increments: list[Increment]) -> None:
        with self._lock:
            if self._held_since is None:
                self._held_since = self.monotonic()
            for increment in increments:
                key = (increment.pk, increment.sk)
                before = self._held.get(key)
                if before is None:
                    self._held[key] = increment
                    continue
                counts = dict(before.counts)
                for name, value in increment.counts.items():
                    counts[name] = counts.get(name, 0) + value
                self._held[key] = Increment(before.pk, before.sk, counts, before.ends)

    def delivery_increments(self, attempts: list[AttemptReport], now: datetime) -> list[Increment]:
        """One increment per granularity for all channels together, and one per channel group touched."""
        per_channel: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for attempt in attempts:
            counts = per_channel[int(attempt.channel_id or 0)]
            counts["attempts"] += 1
            if attempt.outcome == Outcome.retry:
                counts["retries"] += 1
            else:
                counts[attempt.outcome] += 1
            if attempt.outcome == Outcome.sent and attempt.latency_ms is not None:
                counts[f"h{bucket_index(attempt.latency_ms, LATENCY_BOUNDS_MS)}"] += 1
        per_scope: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for channel, counts in per_channel.items():
            for name, value in counts.items():
                per_scope[ALL][name] += value
                per_scope[channel_group(channel)][channel_counter(channel, name)] += value
        increments = []
        for granularity in Granularity:
            start = granularity.floor(now)
            for scope, counts in per_scope.items():
                increments.append(
                    Increment(
                        delivery_pk(granularity, scope, granularity.partition_key(start), self.shard),
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
