"""The analytics endpoints' answers, read from the aggregate rows (never from the outbox).

Each answer comes with a :class:`QueryCount`: a day of minute buckets for one channel is
one Query per shard (4 by default), run in parallel, on the rows of the channel's group,
projected to that channel's counters.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from chalicelib.clock import Clock, isoformat, parse_iso
from chalicelib.domain.errors import InvalidField
from chalicelib.domain.stats import (
    DURATION_BOUNDS_S,
    LATENCY_BOUNDS_MS,
    MAX_BUCKETS,
    Backlog,
    ChannelBacklog,
    DeliveryBucket,
    DeliveryStats,
    DeliveryStatsQuery,
    DeliveryTotals,
    ExportStats,
    ExportStatsQuery,
    ExportTypeStats,
    Granularity,
    Latency,
    bucket_key,
    percentile,
    percentiles,
)
from chalicelib.services.stats import export_pk
from chalicelib.store import stats as store
from chalicelib.store.stats import ALL, QueryCount, StatsTable, channel_counter, channel_group, delivery_pk

# Without ``since``: the last N buckets, the current one included (an hour, a day, a month).
DEFAULT_BUCKETS = {Granularity.minute: 60, Granularity.hour: 24, Granularity.day: 30}
EXPORT_STATUSES = ("completed", "failed")
COUNTERS = ("sent", "failed", "attempts", "retries")
TOP_CHANNELS = 20


def _histogram(row: dict[str, Any], size: int) -> list[int]:
    return [int(row.get(f"h{index}", 0)) for index in range(size)]


def _latency(counts: list[int]) -> Latency:
    return Latency(**percentiles(counts, LATENCY_BOUNDS_MS))


class StatsReader:
    def __init__(self, table: StatsTable, clock: Clock, shards: int) -> None:
        self.table = table
        self.clock = clock
        self.shards = shards

    # --- deliveries ---------------------------------------------------------------

    def bucket_starts(self, query: DeliveryStatsQuery) -> list[datetime]:
        granularity = query.granularity
        until = query.until or self.clock()
        step = granularity.step
        if query.since is None:
            since = granularity.floor(until) - (DEFAULT_BUCKETS[granularity] - 1) * step
        else:
            since = granularity.floor(query.since)
        count = -(-(until - since) // step)  # ceiling: a bucket that has started counts
        if count > MAX_BUCKETS:
            raise InvalidField(
                "since",
                f"The window holds {count} {granularity.value} buckets; at most {MAX_BUCKETS} per request.",
            )
        starts = []
        moment = since
        for _ in range(max(count, 1)):
            starts.append(moment)
            moment += step
        return starts

    def deliveries(self, query: DeliveryStatsQuery) -> tuple[DeliveryStats, QueryCount]:
        granularity = query.granularity
        starts = self.bucket_starts(query)
        size = len(LATENCY_BOUNDS_MS) + 1
        channel = query.channel_id
        scope = channel_group(channel) if channel is not None else ALL
        low, high = bucket_key(starts[0]), bucket_key(starts[-1])
        partitions = sorted({granularity.partition_key(start) for start in starts})
        ranges: list[tuple[str, str | None, str | None]] = [
            (delivery_pk(granularity, scope, partition, shard), low, high)
            for partition in partitions
            for shard in range(self.shards)
        ]
        # A group row holds its channels' counters as ``<channel>.<name>``: read only this channel's.
        names = [*COUNTERS, *(f"h{index}" for index in range(size))]
        wanted = {channel_counter(channel, name): name for name in names} if channel is not None else None
        count = QueryCount()
        rows = self.table.query_many(ranges, count, "stats", list(wanted) if wanted else None)
        merged: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for row in rows:
            target = merged[row["sk"]]
            for name, value in row.items():
                if isinstance(value, float):
                    target[wanted.get(name, "") if wanted else name] += value
        buckets = []
        total_hist = [0] * size
        totals: dict[str, int] = defaultdict(int)
        for start in starts:
            row = merged.get(bucket_key(start), {})
            hist = _histogram(row, size)
            total_hist = [a + b for a, b in zip(total_hist, hist, strict=True)]
            values = {name: int(row.get(name, 0)) for name in COUNTERS}
            for name, value in values.items():
                totals[name] += value
            buckets.append(DeliveryBucket(start=isoformat(start), latency_ms=_latency(hist), **values))
        finished = totals["sent"] + totals["failed"]
        until = query.until or self.clock()
        stats = DeliveryStats(
            since=isoformat(starts[0]),
            until=isoformat(until),
            granularity=granularity,
            channel_id=query.channel_id,
            buckets=buckets,
            totals=DeliveryTotals(
                sent=totals["sent"],
                failed=totals["failed"],
                attempts=totals["attempts"],
                retries=totals["retries"],
                success_rate=round(totals["sent"] / finished, 4) if finished else None,
                latency_ms=_latency(total_hist),
            ),
        )
        return stats, count

    # --- exports ------------------------------------------------------------------

    def exports(self, query: ExportStatsQuery) -> tuple[ExportStats, QueryCount]:
        since, until = query.window(self.clock())
        months = []
        moment = since.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        while moment <= until:
            months.append(moment)
            moment = (moment + timedelta(days=32)).replace(day=1)
        low, high = since.strftime("%Y-%m-%dT%H"), until.strftime("%Y-%m-%dT%H") + "~"
        count = QueryCount()
        rows = self.table.query_many([(export_pk(month), low, high) for month in months], count, "stats")
        per_type: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for row in rows:
            target = per_type[row["sk"].split("#", 1)[1]]
            for name, value in row.items():
                if isinstance(value, float):
                    target[name] += value
        size = len(DURATION_BOUNDS_S) + 1
        job_types = []
        for job_type, row in sorted(per_type.items()):
            hist = _histogram(row, size)
            seconds = row.get("seconds", 0.0)
            job_types.append(
                ExportTypeStats(
                    job_type=job_type,
                    counts={status: int(row.get(status, 0)) for status in EXPORT_STATUSES},
                    rows=int(row.get("rows", 0)),
                    bytes=int(row.get("bytes", 0)),
                    duration_seconds={
                        "p50": percentile(hist, DURATION_BOUNDS_S, 0.5),
                        "p95": percentile(hist, DURATION_BOUNDS_S, 0.95),
                    },
                    rows_per_second=round(row.get("rows", 0) / seconds, 1) if seconds else None,
                )
            )
        return ExportStats(since=isoformat(since), until=isoformat(until), job_types=job_types), count

    # --- backlog ------------------------------------------------------------------

    def backlog(self) -> tuple[Backlog, QueryCount]:
        count = QueryCount()
        pending, oldest = store.pending_backlog(count)
        top = sorted(pending.items(), key=lambda pair: (-pair[1], pair[0]))[:TOP_CHANNELS]
        now = self.clock()
        backlog = Backlog(
            pending=sum(pending.values()),
            by_channel=[ChannelBacklog(channel_id=channel, pending=value) for channel, value in top],
            oldest_pending_at=oldest,
            oldest_pending_age_seconds=round((now - parse_iso(oldest)).total_seconds(), 1) if oldest else None,
            running_exports=store.active_exports(count),
            running_purges=store.active_purge_runs(count),
        )
        return backlog, count
