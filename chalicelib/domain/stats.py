"""Delivery and export analytics: time buckets, fixed-bound histograms, the query and response shapes.

Aggregates are counters per time bucket; latencies go into histograms with fixed
bucket bounds, so that any number of writers can add to them and any window can be
merged by adding counts. Percentiles are read back from the merged histogram.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from pydantic import ConfigDict, Field, model_validator

from chalicelib.domain.common import InputTimestamp, RecordId
from chalicelib.domain.schema import Schema

MAX_BUCKETS = 1440

# Upper bounds (ms) of the delivery-latency histogram (enqueue to sent); one more bucket holds the rest.
LATENCY_BOUNDS_MS: tuple[float, ...] = (
    50,
    100,
    250,
    500,
    1_000,
    2_500,
    5_000,
    10_000,
    30_000,
    60_000,
    300_000,
    900_000,
    3_600_000,
    21_600_000,
)
# Upper bounds (s) of the export-duration histogram.
DURATION_BOUNDS_S: tuple[float, ...] = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1_800, 3_600, 7_200)


class Granularity(str, Enum):
    minute = "minute"
    hour = "hour"
    day = "day"

    @property
    def step(self) -> timedelta:
        return {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}[self.value]

    @property
    def code(self) -> str:
        return self.value[0]

    def floor(self, moment: datetime) -> datetime:
        moment = moment.astimezone(UTC).replace(second=0, microsecond=0)
        if self is Granularity.minute:
            return moment
        moment = moment.replace(minute=0)
        return moment if self is Granularity.hour else moment.replace(hour=0)

    def partition_key(self, start: datetime) -> str:
        """The part of a row's partition key that groups buckets (a day of minutes, a month of hours...)."""
        if self is Granularity.minute:
            return start.strftime("%Y-%m-%d")
        return start.strftime("%Y-%m") if self is Granularity.hour else start.strftime("%Y")


def bucket_key(start: datetime) -> str:
    return start.strftime("%Y-%m-%dT%H:%MZ")


def bucket_index(value: float, bounds: tuple[float, ...]) -> int:
    for index, bound in enumerate(bounds):
        if value <= bound:
            return index
    return len(bounds)


def percentile(counts: list[int], bounds: tuple[float, ...], fraction: float) -> float | None:
    """The value below which ``fraction`` of the samples fall, interpolated inside its bucket."""
    total = sum(counts)
    if total == 0:
        return None
    rank = fraction * total
    seen = 0
    for index, count in enumerate(counts):
        if count and seen + count >= rank:
            lower = 0.0 if index == 0 else bounds[index - 1]
            if index >= len(bounds):
                return float(lower)  # the open-ended last bucket: its lower bound is all we know
            inside = (rank - seen) / count
            return round(lower + (bounds[index] - lower) * inside, 1)
        seen += count
    return float(bounds[-1])


def percentiles(counts: list[int], bounds: tuple[float, ...]) -> dict[str, float | None]:
    return {
        name: percentile(counts, bounds, fraction) for name, fraction in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
    }


class DeliveryStatsQuery(Schema):
    """``GET /system/stats/deliveries``: a window (default the last hour), a granularity, a channel."""

    model_config = ConfigDict(extra="forbid")

    since: InputTimestamp | None = None
    until: InputTimestamp | None = None
    granularity: Granularity = Granularity.minute
    channel_id: RecordId | None = None

    @model_validator(mode="after")
    def _window(self) -> DeliveryStatsQuery:
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError("since must be before until")
        return self


class ExportStatsQuery(Schema):
    """``GET /system/stats/exports``: a window, default the last 24 hours."""

    model_config = ConfigDict(extra="forbid")

    since: InputTimestamp | None = None
    until: InputTimestamp | None = None

    @model_validator(mode="after")
    def _window(self) -> ExportStatsQuery:
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError("since must be before until")
        return self

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        until = self.until or now
        return self.since or until - timedelta(days=1), until


class Latency(Schema):
    p50: float | None
    p95: float | None
    p99: float | None


class DeliveryBucket(Schema):
    start: str
    sent: int
    failed: int
    attempts: int
    retries: int
    latency_ms: Latency


class DeliveryTotals(Schema):
    sent: int
    failed: int
    attempts: int
    retries: int
    success_rate: float | None = Field(description="sent / (sent + failed); null when nothing finished")
    latency_ms: Latency


class DeliveryStats(Schema):
    since: str
    until: str
    granularity: Granularity
    channel_id: int | None
    buckets: list[DeliveryBucket]
    totals: DeliveryTotals


class ExportTypeStats(Schema):
    job_type: str
    counts: dict[str, int] = Field(description="finished jobs by status: completed, failed, cancelled")
    rows: int
    bytes: int
    duration_seconds: dict[str, float | None] = Field(description="p50 (median) and p95")
    rows_per_second: float | None


class ExportStats(Schema):
    since: str
    until: str
    job_types: list[ExportTypeStats]


class ChannelBacklog(Schema):
    channel_id: int
    pending: int


class Backlog(Schema):
    pending: int
    by_channel: list[ChannelBacklog] = Field(description="the 20 channels with the most pending notifications")
    oldest_pending_at: str | None
    oldest_pending_age_seconds: float | None
    running_exports: list[dict[str, Any]]
    running_purges: list[dict[str, Any]]
