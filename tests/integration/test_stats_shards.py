"""The analytics' ``by_end`` index is write-sharded: rows spread over ``stats#<shard>`` keys,
the endpoints still add every row up, and the retention purge finds old rows on every shard
(and the unsharded ``stats`` key of rows written before the sharding)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from chalice.test import Client

from chalicelib import aws
from chalicelib.clock import FixedClock, isoformat
from chalicelib.deps import get_deps
from chalicelib.services.notifications import DeliveryReport
from chalicelib.settings import get_settings
from chalicelib.store.stats import STATS_KIND, StatsRow, kind_partitions
from tests.retention_support import NOW, ago, drain_purge_queue, set_policy
from tests.support import Api

CHANNELS = 8
HOURS = 16  # minute, hour and day rows of 8 channels over 16 hours: hundreds of rows


def _index_entries() -> Counter[str]:
    """How many rows each ``by_end`` partition holds, read from the index itself."""
    entries: Counter[str] = Counter()
    for partition in kind_partitions():
        entries[partition] = sum(1 for _ in StatsRow.by_end.query(partition))
    return +entries


def _record(clock: FixedClock, start: Any, channels: int = CHANNELS, hours: int = HOURS) -> int:
    """One batch per hour, each touching every channel; returns the notifications recorded."""
    deps = get_deps()
    recorded = 0
    for hour in range(hours):
        clock.now = start + timedelta(hours=hour, minutes=hour % 60)
        reports = [
            DeliveryReport(hour * 100 + c, "sent", channel_id=c, latency_ms=50.0) for c in range(1, channels + 1)
        ]
        deps.stats.record_deliveries(reports)
        recorded += len(reports)
    clock.now = NOW
    return recorded


def _sent(api: Api, since: Any, until: Any, channel_id: int | None = None) -> int:
    window = f"since={isoformat(since)}&until={isoformat(until)}"
    scope = f"&channel_id={channel_id}" if channel_id is not None else ""
    reply = api.get(f"/system/stats/deliveries?granularity=day&{window}{scope}")
    assert reply.status == 200, reply.json
    return int(reply.json["totals"]["sent"])


def _fresh_stats(clock: FixedClock) -> None:
    deps = get_deps()
    for name in ("stats", "stats_reader", "notifications"):
        deps.__dict__.pop(name, None)


def test_rows_spread_over_every_kind_shard_and_the_totals_add_up(api: Api, clock: FixedClock) -> None:
    _fresh_stats(clock)
    start = ago(3).replace(minute=0, second=0, microsecond=0)
    recorded = _record(clock, start)

    entries = _index_entries()
    shards = get_settings().stats_end_shards
    assert STATS_KIND not in entries  # new rows never take the unsharded key
    assert set(entries) <= {f"{STATS_KIND}#{shard:02d}" for shard in range(shards)}
    total_rows = sum(entries.values())
    assert len(entries) == min(shards, total_rows), entries  # every shard used
    assert max(entries.values()) <= -(-total_rows // shards), entries  # evenly: a round robin

    # Every row, whatever its by_end shard, is counted once by the endpoints.
    since, until = start - timedelta(days=1), start + timedelta(days=3)
    assert _sent(api, since, until) == recorded
    assert _sent(api, since, until, channel_id=5) == HOURS


def test_a_row_keeps_the_shard_of_its_first_write(clock: FixedClock) -> None:
    _fresh_stats(clock)
    clock.now = ago(1)
    report = [DeliveryReport(1, "sent", channel_id=4, latency_ms=5.0)]
    for _ in range(5):  # the same rows (a container writes one shard copy; one moment) five times
        get_deps().stats.record_deliveries(report)
    clock.now = NOW
    kinds = [row.kind for partition in kind_partitions() for row in StatsRow.by_end.query(partition)]
    assert len(kinds) == 3 * 2  # minute, hour and day rows of channel 4 and of all: one entry each
    rows = {(row.pk, row.sk): row.kind for row in StatsRow.scan()}
    assert sorted(kind for kind in rows.values() if kind) == sorted(kinds)
    assert len(set(kinds)) == len(kinds)  # each new row took the next shard; rewrites took none
    assert kind_partitions(4) == [STATS_KIND, "stats#00", "stats#01", "stats#02", "stats#03"]


def test_the_analytics_purge_removes_old_rows_on_every_shard(
    api: Api, clock: FixedClock, chalice_client: Client
) -> None:
    _fresh_stats(clock)
    old_start = ago(45).replace(minute=0, second=0, microsecond=0)
    recent_start = ago(2).replace(minute=0, second=0, microsecond=0)
    old = _record(clock, old_start)
    recent = _record(clock, recent_start, channels=3, hours=5)
    # A row from before the sharding: ``kind`` is the unsharded "stats".
    legacy_end = isoformat(ago(50))
    aws.client("dynamodb").put_item(
        TableName=StatsRow.Meta.table_name,
        Item={
            "pk": {"S": "dlv#d#all#2026#0"},
            "sk": {"S": "legacy"},
            "kind": {"S": STATS_KIND},
            "ends": {"S": legacy_end},
            "sent": {"N": "1"},
        },
    )
    old_shards = {partition for partition in _index_entries() if partition != STATS_KIND}
    assert len(old_shards) >= get_settings().stats_end_shards // 2

    old_window = (old_start - timedelta(days=1), old_start + timedelta(days=3))
    recent_window = (recent_start - timedelta(days=1), NOW)
    assert (_sent(api, *old_window), _sent(api, *recent_window)) == (old, recent)

    set_policy(api, "analytics", 30)
    assert api.get("/system/retention/analytics/preview").json["purgeable"] is True
    assert api.post("/system/retention/purge", {"categories": ["analytics"]}).status == 202
    drain_purge_queue(chalice_client)

    cutoff = isoformat(NOW - timedelta(days=30))
    left = [row.ends for partition in kind_partitions() for row in StatsRow.by_end.query(partition)]
    assert left and all(ends >= cutoff for ends in left)  # nothing old on any shard, the legacy row too
    assert STATS_KIND not in _index_entries()
    assert (_sent(api, *old_window), _sent(api, *recent_window)) == (0, recent)
