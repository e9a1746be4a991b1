"""The audit log, partitioned by UTC day and write shard, so a time range and a purge are key queries.

``day`` is ``<YYYY-MM-DD>#<shard>``: one event a notification would otherwise put all
of a day's writes on one key. ``sk`` is ``<ISO timestamp>#<event id>``: unique, and
sorting by it is sorting by time, so the shards of a day (or of an actor, an action)
merge into one ordered list whose position is the last ``sk`` handed out. The
``by_actor_shard`` and ``by_action_shard`` indexes serve the list filters; events are
never updated, so projecting everything costs no extra write. The set of days that
hold events lives on a counter-table item so a purge finds old partitions without a Scan.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.store.base import StoredModel, TableMeta, register
from chalicelib.store.pagination import take
from chalicelib.store.sharding import Entry, ShardMerge, all_shards, shard_count, sharded


class AuditByActor(GlobalSecondaryIndex["AuditItem"]):
    class Meta:
        index_name = "by_actor_shard"
        projection = AllProjection()

    actor_key = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class AuditByAction(GlobalSecondaryIndex["AuditItem"]):
    class Meta:
        index_name = "by_action_shard"
        projection = AllProjection()

    action_key = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


@register
class AuditItem(StoredModel):
    class Meta(TableMeta):
        logical_name = "audit_log"

    day = UnicodeAttribute(hash_key=True)  # "<YYYY-MM-DD>#<shard>"
    sk = UnicodeAttribute(range_key=True)
    event_id = UnicodeAttribute()
    at = UnicodeAttribute()
    actor = UnicodeAttribute()
    actor_key_id = NumberAttribute(null=True)  # a name may be ambiguous in old events; the key id never is
    actor_key = UnicodeAttribute()  # "<actor>#<shard>"
    role = UnicodeAttribute()
    action = UnicodeAttribute()
    action_key = UnicodeAttribute()  # "<action>#<shard>"
    resource_type = UnicodeAttribute()
    resource_id = UnicodeAttribute(null=True)
    summary = JSONAttribute(null=True)
    request_id = UnicodeAttribute(null=True)
    source_ip = UnicodeAttribute(null=True)

    by_actor = AuditByActor()
    by_action = AuditByAction()


class AuditDays(StoredModel):
    """Not a table of its own: the ``audit-days`` item of the counters table."""

    class Meta(TableMeta):
        logical_name = "counters"

    name = UnicodeAttribute(hash_key=True)
    days = UnicodeSetAttribute(null=True)


AUDIT_DAYS_KEY = "audit-days"

_round_robin = itertools.count()
_round_robin_lock = threading.Lock()


def day_partitions(day: str) -> list[str]:
    return all_shards(day)


class AuditRepo:
    def add_day(self, day: str) -> None:
        """List ``day`` among the days that hold events (a purge lists partitions without a Scan)."""
        AuditDays(AUDIT_DAYS_KEY).update(actions=[AuditDays.days.add({day})])

    def remove_day(self, day: str) -> None:
        AuditDays(AUDIT_DAYS_KEY).update(actions=[AuditDays.days.delete({day})])

    def days(self) -> list[str]:
        try:
            item = AuditDays.get(AUDIT_DAYS_KEY, consistent_read=True)
        except AuditDays.DoesNotExist:
            return []
        return sorted(item.days or [])

    def put(self, item: AuditItem) -> None:
        """Write one event on the next shard (round robin in this container: shards fill evenly)."""
        with _round_robin_lock:
            shard = next(_round_robin) % shard_count()
        item.day = sharded(item.day[:10], shard)
        item.actor_key = sharded(item.actor, shard)
        item.action_key = sharded(item.action, shard)
        item.save()

    def page(
        self,
        partitions: list[str],
        index: Any,
        low: str,
        high: str,
        limit: int,
        after: str | None,
        descending: bool,
        keep: Any = None,
    ) -> tuple[list[AuditItem], str | None]:
        """Events of ``partitions`` merged by ``sk`` inside ``[low, high]``, continuing after ``after``."""
        if after is not None:
            high, low = (min(high, after), low) if descending else (high, max(low, after))
        query = index.query if index is not None else AuditItem.query

        def fetch(partition: str, count: int, following: Any) -> tuple[list[Entry], Any]:
            results = query(
                partition,
                AuditItem.sk.between(low, high),
                scan_index_forward=not descending,
                limit=count,
                last_evaluated_key=following,
            )
            entries = [
                Entry((item.sk,), item)
                for item in take(results, count)
                if after is None or (item.sk < after if descending else item.sk > after)
            ]
            return entries, results.last_evaluated_key

        merge = ShardMerge(partitions, fetch, limit, descending)
        rows, more = merge.take(limit, lambda entries: [entry.key for entry in entries], keep)
        return rows, (merge.last.sort[0] if more and merge.last is not None else None)

    def by_index(
        self,
        actor: str | None,
        action: str | None,
        low: str,
        high: str,
        limit: int,
        after: str | None,
        descending: bool = True,
    ) -> tuple[list[AuditItem], str | None]:
        """Events of one actor (and action), or of one action."""
        if actor:
            keep = (lambda item: item.action == action) if action else None
            return self.page(all_shards(actor), AuditItem.by_actor, low, high, limit, after, descending, keep)
        return self.page(all_shards(action), AuditItem.by_action, low, high, limit, after, descending)

    def by_day(
        self, day: str, low: str, high: str, limit: int, after: str | None, descending: bool = True
    ) -> tuple[list[AuditItem], str | None]:
        return self.page(day_partitions(day), None, low, high, limit, after, descending)
