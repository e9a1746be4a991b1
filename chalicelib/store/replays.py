"""Replay jobs (the ``notification_replays`` table), keyed by their integer id.

``by_created`` (kind, created_at) serves the list, newest first. ``cursor`` is the
worker's position between invocations (which status it is on and where the outbox
read stopped); ``run_seq`` fences a worker whose lease ran out, as an export's does:
every write of a run is conditional on its ``run_seq`` and on ``status = running``,
so a cancel, or another worker taking over, stops it at its next page.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.store.base import StoredModel, TableMeta, conditional_failed, register
from chalicelib.store.cursors import scope_of
from chalicelib.store.pagination import query_page

KIND = "replay"
ACTIVE = ("pending", "running")


class ReplaysByCreated(GlobalSecondaryIndex["ReplayItem"]):
    class Meta:
        index_name = "by_created"
        projection = AllProjection()

    kind = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


@register
class ReplayItem(StoredModel):
    class Meta(TableMeta):
        logical_name = "notification_replays"

    id = NumberAttribute(hash_key=True)
    kind = UnicodeAttribute(default=KIND)
    status = UnicodeAttribute()  # pending | running | completed | cancelled | failed
    channel_id = NumberAttribute(null=True)
    statuses = JSONAttribute()
    since = UnicodeAttribute()
    until = UnicodeAttribute()
    max = NumberAttribute()
    to_channel_id = NumberAttribute(null=True)
    dry_run = BooleanAttribute(default=False)
    matched = NumberAttribute(default=0)
    replayed = NumberAttribute(default=0)
    skipped = NumberAttribute(default=0)
    requested_by = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    started_at = UnicodeAttribute(null=True)
    completed_at = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)
    cursor = JSONAttribute(null=True)
    run_seq = NumberAttribute(default=0)
    lease_until = UnicodeAttribute(null=True)
    invocations = NumberAttribute(default=0)

    by_created = ReplaysByCreated()


class ReplayRepo:
    def create(self, item: ReplayItem) -> None:
        item.save(condition=ReplayItem.id.does_not_exist())

    def get(self, replay_id: int) -> ReplayItem | None:
        try:
            return ReplayItem.get(replay_id, consistent_read=True)
        except DoesNotExist:
            return None

    def page(self, limit: int, cursor: str | None, convert: Any) -> Any:
        def run(**page: Any) -> Any:
            return ReplayItem.by_created.query(KIND, scan_index_forward=False, **page)

        return query_page(run, limit, cursor, convert, scope_of("notification_replays"))

    def cancel(self, item: ReplayItem, now: str) -> bool:
        """Cancel a pending or running job; False if it had finished already."""
        try:
            item.update(
                actions=[
                    ReplayItem.status.set("cancelled"),
                    ReplayItem.completed_at.set(now),
                    ReplayItem.updated_at.set(now),
                ],
                condition=ReplayItem.status.is_in(*ACTIVE),
            )
        except UpdateError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True

    def claim(self, item: ReplayItem, now: str, lease_until: str) -> bool:
        """Start a run: ``running``, a new ``run_seq`` and the lease, unless another run holds it."""
        try:
            item.update(
                actions=[
                    ReplayItem.status.set("running"),
                    ReplayItem.run_seq.add(1),
                    ReplayItem.invocations.add(1),
                    ReplayItem.lease_until.set(lease_until),
                    ReplayItem.started_at.set(ReplayItem.started_at | now),
                    ReplayItem.updated_at.set(now),
                ],
                condition=ReplayItem.status.is_in(*ACTIVE)
                & (ReplayItem.lease_until.does_not_exist() | (ReplayItem.lease_until < now)),
            )
        except UpdateError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True

    def fenced(self, item: ReplayItem, changes: dict[str, Any], now: str) -> bool:
        """Write ``changes`` (attribute -> value, None removes) if this run still holds the job."""
        actions: list[Any] = [ReplayItem.updated_at.set(now)]
        for name, value in changes.items():
            attribute = getattr(ReplayItem, name)
            actions.append(attribute.remove() if value is None else attribute.set(value))
        try:
            item.update(
                actions=actions,
                condition=(ReplayItem.run_seq == item.run_seq) & (ReplayItem.status == "running"),
            )
        except UpdateError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True
