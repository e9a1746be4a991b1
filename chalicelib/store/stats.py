"""Aggregate rows of the analytics: one table, ``pk`` + ``sk``, numbers added with ``UpdateItem ADD``.

Row kinds (``pk`` / ``sk``):

- delivery counters: ``dlv#<m|h|d>#<g<group>|all>#<partition>#<shard>`` / bucket start
  (``2026-12-01T21:14Z``); a partition is a day of minute rows, a month of hour rows or
  a year of day rows, so one Query per shard reads up to 1,440 buckets. The ``all`` row
  holds the totals (``sent``, ``h3``...); a channel's counters live in the row of its
  group (channel id modulo :data:`CHANNEL_GROUPS`), named ``<channel id>.<counter>``.
  A flush that touches 100 channels writes 8 group rows, not 100 channel rows; the price
  is that a write costs the size of its group's row (some 40 bytes per channel seen in
  the bucket: a day row of 8,000 channels is 40 KB a group), and a row must stay under
  DynamoDB's 400 KB (about 80,000 channels a day on one shard);
- export outcomes: ``exp#<YYYY-MM>`` / ``<YYYY-MM-DDTHH>#<job type>`` (hour rows of a month).

The backlog is not a counter here: it is read from the outbox's ``pending`` index shards
(:func:`pending_backlog`), so an enqueue writes nothing to this table.

A writer picks one of ``shards`` copies of a row (a batch's shard is random), so no key
takes more than its share of the write rate; a reader queries every copy in parallel and
adds them up. Rows carry ``kind`` and ``ends`` (set once) for the sparse ``by_end``
index the retention purge reads (category ``analytics``). ``kind`` is write-sharded
like the other low-cardinality keys (``stats#<shard>``, the shard chosen when the row
is first written, :data:`ROUND_ROBIN`): every new row is an index write, and one
``kind`` would put them all on one key. Numbers are written with the low-level client
because the attribute names of a histogram (``h0``..``hN``) are data, not schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection

from chalicelib.store.base import ADDS_PER_WRITE, StoredModel, TableMeta, add_counters, register
from chalicelib.store.sharding import all_shards, sharded

if TYPE_CHECKING:
    from chalicelib.domain.stats import Granularity

CHANNEL_GROUPS = 8  # fixed: a channel's group is part of where its counters are stored
ALL = "all"  # the scope of the totals row
STATS_KIND = "stats"  # unsharded: what rows written before the sharding carry
PURGE_INDEX = "by_end"


def end_shards() -> int:
    """``VALHALLA_STATS_END_SHARDS``: a new row is written often at a low rate over many channels."""
    from chalicelib.settings import get_settings

    return get_settings().stats_end_shards


class _RoundRobin:
    """The ``by_end`` shard for the next new row: moves on only when a write created a row."""

    def __init__(self) -> None:
        self.position = 0

    def current(self, shards: int | None = None) -> str:
        return sharded(STATS_KIND, self.position % (shards or end_shards()))

    def created(self) -> None:
        self.position += 1


# Per container: a row's first write sets ``kind`` (``if_not_exists``) and keeps that shard,
# so new rows spread evenly over the shards, as audit events do. A hash of the row's key
# leaves some shards with twice the average: a short run makes a handful of rows a shard.
ROUND_ROBIN = _RoundRobin()


def kind_partitions(shards: int | None = None) -> list[str]:
    """Every ``by_end`` partition a reader must query: the shards, and the unsharded one of older rows."""
    return [STATS_KIND, *all_shards(STATS_KIND, shards or end_shards())]


class StatsByEnd(GlobalSecondaryIndex["StatsRow"]):
    class Meta:
        index_name = PURGE_INDEX
        projection = KeysOnlyProjection()

    kind = UnicodeAttribute(hash_key=True)
    ends = UnicodeAttribute(range_key=True)


@register
class StatsRow(StoredModel):
    """The table's schema; counters (``sent``, ``failed``, ``h3``...) are added by name."""

    class Meta(TableMeta):
        logical_name = "stats"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute(null=True)  # "stats#<shard>"; absent on gauges: they are never purged
    ends = UnicodeAttribute(null=True)  # when the row's time bucket ends: purged once that is past the cutoff
    pending = NumberAttribute(null=True)

    by_end = StatsByEnd()


def delivery_pk(granularity: Granularity, scope: str, partition: str, shard: int) -> str:
    """``scope``: :data:`ALL`, or a channel group (:func:`channel_group`)."""
    return f"dlv#{granularity.code}#{scope}#{partition}#{shard}"


def channel_group(channel_id: int) -> str:
    """The row a channel's counters share with the other channels of its group."""
    return f"g{channel_id % CHANNEL_GROUPS:02d}"


def channel_counter(channel_id: int, name: str) -> str:
    """A channel's counter inside its group's row: ``<channel id>.<name>`` (``17.sent``, ``17.h3``)."""
    return f"{channel_id}.{name}"


@dataclass
class QueryCount:
    """How many DynamoDB requests a read made (the stats endpoints report and test it)."""

    queries: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, count: int = 1) -> None:
        self.queries += count
        self.by_kind[kind] = self.by_kind.get(kind, 0) + count


@dataclass(frozen=True)
class Increment:
    pk: str
    sk: str
    counts: dict[str, float]
    ends: str | None = None  # when the bucket ends (ISO): makes the row purgeable by time


class StatsTable:
    """Adds to aggregate rows and reads them back; ``client`` is a boto3 DynamoDB client getter."""

    def __init__(self, client: Callable[[], Any], table_name: Callable[[], str], workers: int = 8) -> None:
        self._client = client
        self._table_name = table_name
        self.workers = workers

    def add(self, increment: Increment) -> None:
        """``ADD`` the counts to the row, :data:`ADDS_PER_WRITE` counters a request.

        A busy group row can gather hundreds of counters in one flush, and an update
        expression may not exceed 4 KB: more than that many take one more request each.
        """
        counts = sorted((name, value) for name, value in increment.counts.items() if value)
        for start in range(0, len(counts), ADDS_PER_WRITE):
            self._add(increment, counts[start : start + ADDS_PER_WRITE], first=start == 0)

    def _add(self, increment: Increment, counts: list[tuple[str, float]], first: bool) -> None:
        expression, names, values = add_counters([(name, _number(value)) for name, value in counts])
        purgeable = first and increment.ends is not None
        if purgeable:
            names.update({"#kind": "kind", "#ends": "ends"})
            values.update({":kind": {"S": ROUND_ROBIN.current()}, ":ends": {"S": increment.ends}})
            expression += " SET #kind = if_not_exists(#kind, :kind), #ends = if_not_exists(#ends, :ends)"
        reply = self._client().update_item(
            TableName=self._table_name(),
            Key={"pk": {"S": increment.pk}, "sk": {"S": increment.sk}},
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_OLD",  # none: this write made the row (returned values cost no capacity)
        )
        if purgeable and not reply.get("Attributes"):
            ROUND_ROBIN.created()

    def add_all(self, increments: Iterable[Increment]) -> None:
        for increment in increments:
            self.add(increment)

    def query_many(
        self,
        ranges: list[tuple[str, str | None, str | None]],
        count: QueryCount,
        kind: str,
        attributes: list[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Every row of each ``(pk, sk from, sk to)``, the partitions queried in parallel.

        ``attributes``: only these (and ``sk``) come back, e.g. one channel's counters of a group row.
        """
        if not ranges:
            return []
        with ThreadPoolExecutor(max_workers=min(self.workers, len(ranges))) as pool:
            results = list(pool.map(lambda key_range: self._query_range(key_range, attributes), ranges))
        rows: list[dict[str, Any]] = []
        for items, pages in results:
            count.add(kind, pages)
            rows.extend(items)
        return rows

    def _query_range(
        self, key_range: tuple[str, str | None, str | None], attributes: list[str] | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        pk, low, high = key_range
        names = {"#pk": "pk"}
        values: dict[str, Any] = {":pk": {"S": pk}}
        condition = "#pk = :pk"
        if low is not None and high is not None:
            names["#sk"] = "sk"
            values.update({":lo": {"S": low}, ":hi": {"S": high}})
            condition += " AND #sk BETWEEN :lo AND :hi"
        request: dict[str, Any] = {
            "TableName": self._table_name(),
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if attributes is not None:
            names["#sk"] = "sk"
            wanted = ["#sk"]
            for index, name in enumerate(attributes):
                names[f"#a{index}"] = name
                wanted.append(f"#a{index}")
            request["ProjectionExpression"] = ", ".join(wanted)
        items: list[dict[str, Any]] = []
        pages = 0
        while True:
            page = self._client().query(**request)
            pages += 1
            items.extend(_plain(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items, pages
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(round(float(value), 3))


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    """A low-level item as plain values (numbers as float, strings as str)."""
    plain: dict[str, Any] = {}
    for name, typed in item.items():
        if "N" in typed:
            plain[name] = float(typed["N"])
        elif "S" in typed:
            plain[name] = typed["S"]
    return plain


def default_stats_table() -> StatsTable:
    from chalicelib import aws

    return StatsTable(lambda: aws.client("dynamodb"), lambda: StatsRow.Meta.table_name)


# --- what the backlog reads beside the gauge: a handful of bounded queries on real state --------


def pending_backlog(count: QueryCount) -> tuple[dict[int, int], str | None]:
    """Pending outbox items per channel, and the oldest one's ``created_at``.

    Every ``pending`` write shard of ``by_status_shard`` is read in full, in parallel,
    projected to ``channel_id`` and ``created_at`` (about 100 bytes an entry: a 1 MB
    page holds some 10,000 pending notifications). This costs reads proportional to the
    backlog on each call instead of a gauge write on every enqueue and every outcome.
    """
    from chalicelib import aws
    from chalicelib.store.notifications import OutboxItem
    from chalicelib.store.sharding import MAX_PARALLEL_QUERIES, all_shards

    client = aws.client("dynamodb")
    partitions = all_shards("pending")

    def one(partition: str) -> tuple[dict[int, int], str | None, int]:
        request: dict[str, Any] = {
            "TableName": OutboxItem.Meta.table_name,
            "IndexName": OutboxItem.by_status.Meta.index_name,
            "KeyConditionExpression": "#k = :k",
            "ProjectionExpression": "#c, #t",
            "ExpressionAttributeNames": {"#k": "status_key", "#c": "channel_id", "#t": "created_at"},
            "ExpressionAttributeValues": {":k": {"S": partition}},
        }
        per_channel: dict[int, int] = {}
        oldest: str | None = None
        pages = 0
        while True:
            page = client.query(**request)
            pages += 1
            for item in page.get("Items", []):
                channel = int(item["channel_id"]["N"])
                per_channel[channel] = per_channel.get(channel, 0) + 1
                created = item["created_at"]["S"]
                oldest = created if oldest is None else min(oldest, created)
            if "LastEvaluatedKey" not in page:
                return per_channel, oldest, pages
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_QUERIES, len(partitions))) as pool:
        results = list(pool.map(one, partitions))
    totals: dict[int, int] = {}
    oldest: str | None = None
    for per_channel, first, pages in results:
        count.add("outbox.by_status", pages)
        for channel, value in per_channel.items():
            totals[channel] = totals.get(channel, 0) + value
        if first is not None:
            oldest = first if oldest is None else min(oldest, first)
    return totals, oldest


def active_exports(count: QueryCount, limit: int = 50) -> list[dict[str, Any]]:
    """Export jobs ``running`` or ``pending`` (the ``by_status`` index, a page each)."""
    from chalicelib.store.exports import ExportJobItem

    jobs = []
    for status in ("running", "pending"):
        count.add("export_jobs.by_status")
        for item in ExportJobItem.by_status.query(status, limit=limit, page_size=limit):
            jobs.append(
                {
                    "id": int(item.id),
                    "job_type": item.job_type,
                    "status": item.status,
                    "rows_written": int(item.rows_written or 0),
                    "created_at": item.created_at,
                    "started_at": item.started_at,
                }
            )
    return jobs


def active_purge_runs(count: QueryCount, recent: int = 20) -> list[dict[str, Any]]:
    """Purge runs not finished among the most recent ones (runs are started daily or by hand)."""
    from chalicelib.store.retention import RUN_KIND, PurgeRunItem

    count.add("purge_runs.by_created")
    runs = []
    for item in PurgeRunItem.by_created.query(RUN_KIND, scan_index_forward=False, limit=recent, page_size=recent):
        if item.status in ("pending", "running"):
            runs.append(
                {
                    "id": int(item.id),
                    "status": item.status,
                    "dry_run": bool(item.dry_run),
                    "created_at": item.created_at,
                }
            )
    return runs
