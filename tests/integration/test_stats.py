"""Delivery and export analytics through the API: buckets, totals, the backlog, limits, query counts, retention."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import aws
from chalicelib.clock import FixedClock, isoformat, utcnow
from chalicelib.deps import get_deps
from chalicelib.domain.stats import LATENCY_BOUNDS_MS, Granularity, percentile
from chalicelib.services.notifications import DeliveryReport
from chalicelib.settings import get_settings
from chalicelib.store.stats import ADDS_PER_WRITE, CHANNEL_GROUPS, channel_group
from tests.export_support import drain
from tests.notify_support import create_channel, enqueue, pump_until_idle
from tests.retention_support import NOW, ago, drain_purge_queue, set_policy
from tests.support import Api, reset_all
from tests.webhook_receiver import Response, WebhookReceiver


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch, aws: None) -> Iterator[WebhookReceiver]:
    monkeypatch.setenv("VALHALLA_ALLOW_PRIVATE_WEBHOOK_TARGETS", "true")
    reset_all()
    with WebhookReceiver(default=Response(400)) as running:
        yield running


def today_window() -> str:
    now = utcnow()
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return f"since={isoformat(start)}&until={isoformat(now + timedelta(seconds=1))}"


def query_count(reply: Any) -> int:
    return int(reply.headers["x-query-count"])


def test_deliveries_are_counted_per_bucket_per_channel_and_in_total(api: Api, receiver: WebhookReceiver) -> None:
    email = create_channel(api)
    hook = create_channel(api, name="rejecting-hook", channel_type="webhook", target=receiver.url())
    for _ in range(3):
        enqueue(api, email["id"])
    enqueue(api, hook["id"])  # the receiver answers 400: failed at once
    pump_until_idle()

    reply = api.get(f"/system/stats/deliveries?granularity=minute&{today_window()}")
    assert reply.status == 200, reply.json
    totals = reply.json["totals"]
    assert (totals["sent"], totals["failed"], totals["attempts"], totals["retries"]) == (3, 1, 4, 0)
    assert totals["success_rate"] == 0.75
    assert totals["latency_ms"]["p50"] is not None and totals["latency_ms"]["p99"] >= totals["latency_ms"]["p50"]
    busy = [bucket for bucket in reply.json["buckets"] if bucket["attempts"]]
    assert sum(bucket["sent"] for bucket in busy) == 3
    assert all(bucket["start"].endswith(":00.000Z") for bucket in reply.json["buckets"])

    one = api.get(f"/system/stats/deliveries?granularity=minute&channel_id={email['id']}&{today_window()}")
    assert (one.json["totals"]["sent"], one.json["totals"]["failed"]) == (3, 0)
    assert one.json["totals"]["success_rate"] == 1.0
    other = api.get(f"/system/stats/deliveries?granularity=minute&channel_id={hook['id']}&{today_window()}")
    assert (other.json["totals"]["sent"], other.json["totals"]["failed"]) == (0, 1)


def test_a_day_of_minute_buckets_for_one_channel_costs_one_query_per_shard(api: Api) -> None:
    channel = create_channel(api)
    enqueue(api, channel["id"])
    pump_until_idle()
    reply = api.as_(api.token).get(
        f"/system/stats/deliveries?granularity=minute&channel_id={channel['id']}&{today_window()}"
    )
    assert reply.status == 200
    assert query_count(reply) == get_settings().stats_shards
    for granularity in ("hour", "day"):
        coarse = api.get(f"/system/stats/deliveries?granularity={granularity}")
        assert coarse.json["totals"]["sent"] == 1, granularity
        assert query_count(coarse) <= 2 * get_settings().stats_shards


def test_hour_and_day_buckets_hold_the_same_counts(api: Api) -> None:
    channel = create_channel(api)
    for _ in range(2):
        enqueue(api, channel["id"])
    pump_until_idle()
    day = api.get("/system/stats/deliveries?granularity=day").json
    hour = api.get("/system/stats/deliveries?granularity=hour").json
    assert len(day["buckets"]) == 30 and len(hour["buckets"]) == 24
    assert day["totals"]["sent"] == hour["totals"]["sent"] == 2


@pytest.mark.parametrize(
    "params, loc",
    [
        ("granularity=minute&since=2026-01-01T00:00:00Z&until=2026-01-03T00:00:00Z", ["query", "since"]),
        ("granularity=hour&since=2020-01-01T00:00:00Z&until=2026-01-01T00:00:00Z", ["query", "since"]),
        ("granularity=second", ["query", "granularity"]),
        ("since=yesterday", ["query", "since"]),
        ("channel_id=0", ["query", "channel_id"]),
        ("since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", ["query"]),
    ],
)
def test_bad_windows_are_refused_with_422(api: Api, params: str, loc: list[str]) -> None:
    reply = api.get(f"/system/stats/deliveries?{params}")
    assert reply.status == 422, reply.json
    assert reply.json["detail"][0]["loc"][: len(loc)] == loc


def test_exactly_1440_minute_buckets_are_allowed(api: Api) -> None:
    reply = api.get("/system/stats/deliveries?granularity=minute&since=2026-01-01T00:00:00Z&until=2026-01-02T00:00:00Z")
    assert reply.status == 200 and len(reply.json["buckets"]) == 1440
    assert query_count(reply) == get_settings().stats_shards


def test_backlog_counts_pending_per_channel_and_the_oldest(api: Api) -> None:
    first = create_channel(api)
    second = create_channel(api, name="second", target="second@example.com")
    for _ in range(3):
        enqueue(api, first["id"])
    enqueue(api, second["id"])
    reply = api.get("/system/stats/backlog")
    assert reply.status == 200
    body = reply.json
    assert body["pending"] == 4
    assert body["by_channel"] == [{"channel_id": first["id"], "pending": 3}, {"channel_id": second["id"], "pending": 1}]
    assert body["oldest_pending_at"] is not None and body["oldest_pending_age_seconds"] >= 0
    assert (
        query_count(reply) == get_settings().write_shards + 3
    )  # one page per pending write shard of the outbox (counts per channel and the oldest), exports x2, purges

    pump_until_idle()
    drained = api.get("/system/stats/backlog").json
    assert drained["pending"] == 0 and drained["by_channel"] == [] and drained["oldest_pending_at"] is None


def test_a_retried_notification_is_pending_again(api: Api, receiver: WebhookReceiver) -> None:
    hook = create_channel(api, name="rejecting-hook", channel_type="webhook", target=receiver.url())
    item = enqueue(api, hook["id"])
    pump_until_idle()
    assert api.get("/system/stats/backlog").json["pending"] == 0
    assert api.post(f"/system/notify/{item['id']}/retry").status == 200
    assert api.get("/system/stats/backlog").json["by_channel"] == [{"channel_id": hook["id"], "pending": 1}]


def test_export_stats_per_job_type(api: Api) -> None:
    everything = {"before_date": (utcnow() + timedelta(days=1)).strftime("%Y-%m-%d")}
    for _ in range(2):
        assert api.post("/system/exports/", {"job_type": "audit_log_export", "filter_params": everything}).status == 201
    assert api.post("/system/exports/", {"job_type": "config_snapshot"}).status == 201
    running = api.get("/system/stats/backlog").json["running_exports"]
    assert {job["status"] for job in running} == {"pending"} and len(running) == 3
    drain()
    reply = api.get("/system/stats/exports")
    assert reply.status == 200
    by_type = {item["job_type"]: item for item in reply.json["job_types"]}
    audit = by_type["audit_log_export"]
    assert audit["counts"] == {"completed": 2, "failed": 0}
    assert audit["rows"] > 0 and audit["bytes"] > 0
    assert audit["duration_seconds"]["p50"] is not None
    assert by_type["config_snapshot"]["counts"]["completed"] == 1
    assert query_count(reply) <= 2  # one Query per month the window touches
    assert api.get("/system/stats/backlog").json["running_exports"] == []


def test_viewers_read_stats_and_need_a_key(api: Api, tokens: dict[Any, str]) -> None:
    from chalicelib.domain.common import Role

    viewer = api.as_(tokens[Role.viewer])
    for path in ("/system/stats/deliveries", "/system/stats/exports", "/system/stats/backlog"):
        assert viewer.get(path).status == 200, path
        assert api.as_(None).get(path).status == 401, path


def test_a_batch_is_one_write_per_row_it_touches_not_per_notification(aws: None) -> None:
    recorder = get_deps().stats
    reports = [DeliveryReport(n, "sent", channel_id=7, latency_ms=120.0) for n in range(10)]
    reports += [DeliveryReport(99, "retry", channel_id=8), DeliveryReport(100, "skip", channel_id=8)]
    # 3 granularities x (channel 7, channel 8, all): no backlog gauge to keep (it is read from the outbox)
    assert recorder.record_deliveries(reports) == 3 * 3


def test_channels_sharing_a_group_row_keep_their_own_counts(api: Api) -> None:
    """40 channels in 8 group rows: a flush writes 3 x (8 groups + all), and each channel reads back its own."""
    recorder = get_deps().stats
    channels = range(1, 41)  # channel c: c sent at 120 ms, and c % 3 failed
    reports = [DeliveryReport(c * 100 + n, "sent", channel_id=c, latency_ms=120.0) for c in channels for n in range(c)]
    reports += [DeliveryReport(c * 100 + 99, "failed", channel_id=c) for c in channels if c % 3]
    assert recorder.record_deliveries(reports) == 3 * (CHANNEL_GROUPS + 1)
    assert len({channel_group(c) for c in channels}) == CHANNEL_GROUPS

    for c in (1, 9, 17, 40):  # 1, 9 and 17 share a group row
        reply = api.get(f"/system/stats/deliveries?granularity=day&channel_id={c}")
        assert reply.status == 200, reply.json
        totals = reply.json["totals"]
        failed = 1 if c % 3 else 0
        assert (totals["sent"], totals["failed"], totals["attempts"]) == (c, failed, c + failed), c
        assert totals["latency_ms"]["p50"] == 175.0  # the (100, 250] ms bucket, this channel's only
    everything = api.get("/system/stats/deliveries?granularity=day").json["totals"]
    assert everything["sent"] == sum(channels)
    assert everything["failed"] == sum(1 for c in channels if c % 3)
    assert api.get("/system/stats/deliveries?granularity=day&channel_id=41").json["totals"]["attempts"] == 0


def test_a_busy_group_row_is_written_in_requests_under_the_expression_limit(api: Api) -> None:
    """800 channels in one flush: 100 a group, 300 counters a group row, split into several requests."""
    recorder = get_deps().stats
    table = get_settings().table("stats")
    expressions: list[str] = []

    def seen(params: dict[str, Any], **_: Any) -> None:
        if params.get("TableName") == table:
            expressions.append(params["UpdateExpression"])

    client = aws.client("dynamodb")
    client.meta.events.register("before-parameter-build.dynamodb.UpdateItem", seen, unique_id="stats-expressions")
    try:
        reports = [DeliveryReport(c, "sent", channel_id=c, latency_ms=120.0) for c in range(1, 801)]
        recorder.record_deliveries(reports)
    finally:
        client.meta.events.unregister("before-parameter-build.dynamodb.UpdateItem", unique_id="stats-expressions")
    requests_per_group = -(-300 // ADDS_PER_WRITE)
    assert requests_per_group > 1
    assert len(expressions) == 3 * (CHANNEL_GROUPS * requests_per_group + 1)
    assert max(len(expression.encode()) for expression in expressions) <= 4096
    for c in (1, 400, 800):
        totals = api.get(f"/system/stats/deliveries?granularity=hour&channel_id={c}").json["totals"]
        assert (totals["sent"], totals["attempts"], totals["latency_ms"]["p50"]) == (1, 1, 175.0), c
    assert api.get("/system/stats/deliveries?granularity=hour").json["totals"]["sent"] == 800


def test_percentiles_come_from_the_fixed_bounds() -> None:
    counts = [0] * (len(LATENCY_BOUNDS_MS) + 1)
    counts[2] = 100  # every sample in (100, 250] ms
    assert percentile(counts, LATENCY_BOUNDS_MS, 0.5) == 175.0
    assert percentile([0] * len(counts), LATENCY_BOUNDS_MS, 0.5) is None
    assert Granularity.hour.floor(NOW + timedelta(minutes=59)) == NOW


def test_retention_purges_old_aggregates_as_the_analytics_category(
    api: Api,
    clock: FixedClock,
    chalice_client: Client,
) -> None:
    deps = get_deps()
    for name in ("stats", "stats_reader", "notifications"):
        deps.__dict__.pop(name, None)
    old = [DeliveryReport(1, "sent", channel_id=3, latency_ms=10.0)]
    clock.now = ago(40)
    deps.stats.record_deliveries(old)
    clock.now = ago(1)
    deps.stats.record_deliveries(old * 2)
    clock.now = NOW

    def sent_on(moment: Any) -> int:
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        window = f"since={isoformat(day)}&until={isoformat(day + timedelta(days=1))}"
        return int(api.get(f"/system/stats/deliveries?granularity=hour&{window}").json["totals"]["sent"])

    assert (sent_on(ago(40)), sent_on(ago(1))) == (1, 2)
    set_policy(api, "analytics", 30)
    assert api.get("/system/retention/analytics/preview").json["purgeable"] is True
    assert api.post("/system/retention/purge", {"categories": ["analytics"]}).status == 202
    drain_purge_queue(chalice_client)
    assert (sent_on(ago(40)), sent_on(ago(1))) == (0, 2)
