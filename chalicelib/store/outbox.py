"""The outbox's data access: every read and write of a notification goes through here.

Per notification, from enqueue to ``sent`` (see ``docs/design/data-layout.md``):
``put`` writes the content once and the small state item; ``claim`` and
``record_attempt`` each update only the state item. Lists read the sharded indexes
(keys only) in parallel, merge them newest first and fetch the items with
BatchGetItem.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from chalicelib.store.base import conditional_failed
from chalicelib.store.notifications import AttemptMap, ContentItem, OutboxItem
from chalicelib.store.pagination import take
from chalicelib.store.sharding import Entry, ShardMerge, all_shards, shard_of, sharded

STATUSES = ("pending", "sent", "failed")
BATCH_GET = 100
HISTORY_KEPT = 10  # a whole default retry schedule (8 attempts) and a manual retry's first ones


class MergedPage(list[Any]):
    """A page of a merged read, with where it stopped (as a PynamoDB result has it)."""

    def __init__(self, rows: list[Any], last_evaluated_key: dict[str, Any] | None) -> None:
        super().__init__(rows)
        self.last_evaluated_key = last_evaluated_key


@dataclass(frozen=True)
class Stored:
    """A notification as stored: its state and its content (None only if it vanished meanwhile)."""

    state: OutboxItem
    content: ContentItem | None


def status_key(status: str, notification_id: int) -> str:
    return sharded(status, shard_of(notification_id))


def channel_key(channel_id: int, notification_id: int) -> str:
    return sharded(channel_id, shard_of(notification_id))


class OutboxRepo:
    # --- writes -----------------------------------------------------------------

    def put(self, state: OutboxItem, content: ContentItem) -> None:
        """The content first: a state item is never without it."""
        state.status_key = status_key(state.status, int(state.id))
        state.channel_key = channel_key(int(state.channel_id), int(state.id))
        content.save()
        try:
            state.save(condition=OutboxItem.id.does_not_exist())
        except Exception:
            content.delete()  # nothing written when the request fails
            raise

    def put_once(self, state: OutboxItem, content: ContentItem) -> bool:
        """Write a notification whose id was chosen before; ``False`` if an earlier try wrote it.

        The content is the same on every try for one id, so writing it again is harmless
        and it is never deleted here: it may belong to the state item that already exists.
        """
        state.status_key = status_key(state.status, int(state.id))
        state.channel_key = channel_key(int(state.channel_id), int(state.id))
        content.save()
        try:
            state.save(condition=OutboxItem.id.does_not_exist())
        except PutError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True

    def claim(
        self, notification_id: int, owner: str, stamp: str, lease_until: str, due_limit: str
    ) -> OutboxItem | None:
        """Take the lease on a pending, due item with one UpdateItem; None if the condition failed."""
        item = OutboxItem(notification_id)
        condition = (
            (OutboxItem.status == "pending")
            & (OutboxItem.lease_until.does_not_exist() | (OutboxItem.lease_until < stamp))
            & (OutboxItem.next_attempt_at.does_not_exist() | (OutboxItem.next_attempt_at <= due_limit))
        )
        try:
            item.update(
                actions=[OutboxItem.lease_owner.set(owner), OutboxItem.lease_until.set(lease_until)],
                condition=condition,
            )
        except UpdateError as exc:
            if conditional_failed(exc):
                return None
            raise
        return item

    def record_attempt(
        self,
        state: OutboxItem,
        owner: str,
        attempt: AttemptMap,
        status: str,
        changes: dict[str, Any],
    ) -> bool:
        """Write one attempt's outcome on the condition that ``owner`` still holds the lease.

        The history keeps the latest ``HISTORY_KEPT`` attempts, so the item stops
        growing. ``changes``: attribute -> new value (None removes it). False: the
        lease was lost (another worker's record wins).
        """
        history = [*list(state.history or []), attempt][-HISTORY_KEPT:]
        actions: list[Any] = [
            OutboxItem.attempts.add(1),
            OutboxItem.cycle_attempts.add(1),
            OutboxItem.lease_owner.remove(),
            OutboxItem.lease_until.remove(),
            OutboxItem.history.set(history),
        ]
        if status != state.status:
            actions += [OutboxItem.status.set(status), OutboxItem.status_key.set(status_key(status, int(state.id)))]
        for name, value in changes.items():
            attribute = getattr(OutboxItem, name)
            actions.append(attribute.remove() if value is None else attribute.set(value))
        try:
            state.update(actions=actions, condition=OutboxItem.lease_owner == owner)
        except UpdateError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True

    def release(self, state: OutboxItem, owner: str, due: str) -> bool:
        """Give a claimed item back unattempted (the breaker or a rate limit deferred it), due at ``due``."""
        try:
            state.update(
                actions=[
                    OutboxItem.lease_owner.remove(),
                    OutboxItem.lease_until.remove(),
                    OutboxItem.next_attempt_at.set(due),
                    OutboxItem.due_at.set(due),
                ],
                condition=OutboxItem.lease_owner == owner,
            )
        except UpdateError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True

    def restart(self, notification_id: int, stamp: str) -> OutboxItem | None:
        """A failed item back to ``pending`` with a fresh retry schedule; None unless it was failed."""
        item = OutboxItem(notification_id)
        try:
            item.update(
                actions=[
                    OutboxItem.status.set("pending"),
                    OutboxItem.status_key.set(status_key("pending", notification_id)),
                    OutboxItem.cycle_attempts.set(0),
                    OutboxItem.due_at.set(stamp),
                    OutboxItem.updated_at.set(stamp),
                    OutboxItem.next_attempt_at.remove(),
                    OutboxItem.lease_owner.remove(),
                    OutboxItem.lease_until.remove(),
                ],
                condition=OutboxItem.status == "failed",
            )
        except UpdateError as exc:
            if conditional_failed(exc):
                return None
            raise
        return item

    def take_overdue(self, notification_id: int, stamp: str, cutoff: str) -> bool:
        """Claim a re-enqueue of an overdue pending item: False if another sweeper or a worker moved it."""
        item = OutboxItem(notification_id)
        try:
            item.update(
                actions=[OutboxItem.due_at.set(stamp)],
                condition=(OutboxItem.status == "pending")
                & (OutboxItem.due_at < cutoff)
                & (OutboxItem.lease_until.does_not_exist() | (OutboxItem.lease_until < stamp)),
            )
        except UpdateError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True

    # --- reads ------------------------------------------------------------------

    def state(self, notification_id: int, consistent: bool = False) -> OutboxItem | None:
        try:
            return OutboxItem.get(notification_id, consistent_read=consistent)
        except DoesNotExist:
            return None

    def content(self, notification_id: int) -> ContentItem | None:
        try:
            return ContentItem.get(notification_id)
        except DoesNotExist:
            return None

    def get(self, notification_id: int) -> Stored | None:
        state = self.state(notification_id)
        return None if state is None else Stored(state, self.content(notification_id))

    def hydrate(self, ids: list[int]) -> list[Stored | None]:
        """States and contents of many notifications (BatchGetItem), in the order asked."""
        states: dict[int, OutboxItem] = {}
        contents: dict[int, ContentItem] = {}
        for start in range(0, len(ids), BATCH_GET):
            chunk = ids[start : start + BATCH_GET]
            states.update({int(item.id): item for item in OutboxItem.batch_get(chunk)})
            found = [identifier for identifier in chunk if identifier in states]
            contents.update({int(item.id): item for item in ContentItem.batch_get(found)})
        return [
            Stored(states[identifier], contents.get(identifier)) if identifier in states else None for identifier in ids
        ]

    def _partitions(self, status: str | None, channel_id: int | None) -> tuple[Any, list[str]]:
        if channel_id is not None:
            return OutboxItem.by_channel, all_shards(channel_id)
        statuses = [status] if status else list(STATUSES)
        return OutboxItem.by_status, [partition for value in statuses for partition in all_shards(value)]

    def _merged(
        self,
        index: Any,
        partitions: list[str],
        limit: int,
        after: list[Any] | None,
        descending: bool,
        low: str | None = None,
        high: str | None = None,
        keep: Callable[[Stored], bool] | None = None,
    ) -> tuple[list[Stored], list[Any] | None]:
        """One page of the partitions merged by ``(created_at, id)``, continuing after ``after``."""
        if after is not None:
            if descending:
                high = after[0] if high is None else min(high, after[0])
            else:
                low = after[0] if low is None else max(low, after[0])
        bound = tuple(after) if after is not None else None
        if low is not None and high is not None:
            condition: Any = OutboxItem.created_at.between(low, high)
        elif high is not None:
            condition = OutboxItem.created_at <= high
        elif low is not None:
            condition = OutboxItem.created_at >= low
        else:
            condition = None

        def fetch(partition: str, count: int, following: Any) -> tuple[list[Entry], Any]:
            results = index.query(
                partition, condition, scan_index_forward=not descending, limit=count, last_evaluated_key=following
            )
            entries = []
            for item in take(results, count):
                sort = (item.created_at, int(item.id))
                if bound is not None and (sort >= bound if descending else sort <= bound):
                    continue  # the previous page's last entry, or one beside it in the same instant
                entries.append(Entry(sort, int(item.id)))
            return entries, results.last_evaluated_key

        merge = ShardMerge(partitions, fetch, limit, descending)
        rows, more = merge.take(limit, lambda entries: self.hydrate([entry.key for entry in entries]), keep)
        return rows, (list(merge.last.sort) if more and merge.last is not None else None)

    def page(
        self, status: str | None, channel_id: int | None, limit: int, after: list[Any] | None
    ) -> tuple[list[Stored], list[Any] | None]:
        """Newest first; ``after`` is the ``[created_at, id]`` the previous page stopped at."""
        index, partitions = self._partitions(status, channel_id)
        keep = None if channel_id is None or status is None else (lambda stored: stored.state.status == status)
        return self._merged(index, partitions, limit, after, True, keep=keep)

    def window_reader(
        self, status: str | None, channel_id: int | None, low: str, high: str
    ) -> Callable[[int, dict[str, Any] | None], MergedPage]:
        """Oldest first inside ``[low, high]``, a page at a time (exports): ``(limit, position) -> page``."""
        index, partitions = self._partitions(status, channel_id)
        keep = None if channel_id is None or status is None else (lambda stored: stored.state.status == status)

        def read(limit: int, position: dict[str, Any] | None) -> MergedPage:
            after = position.get("after") if position else None
            rows, stopped = self._merged(index, partitions, limit, after, False, low, high, keep)
            return MergedPage(rows, {"after": stopped} if stopped else None)

        return read

    def overdue(self, cutoff: str, limit: int) -> Iterator[int]:
        """Pending items whose ``due_at`` passed ``cutoff``, oldest first per shard (the sweeper)."""
        found = 0
        for partition in all_shards("pending"):
            results = OutboxItem.by_status.query(
                partition, filter_condition=OutboxItem.due_at < cutoff, page_size=limit
            )
            for item in results:
                yield int(item.id)
                found += 1
                if found >= limit:
                    return

    def delete_contents(self, notification_ids: list[int], attempts: int = 8) -> None:
        """The contents of purged notifications (BatchWriteItem, 25 a request), unprocessed ones again.

        Raises if some are still unprocessed: the purge stops before the states go, and
        the next run finds them (and their contents) again.
        """
        from chalicelib import aws

        client = aws.client("dynamodb")
        table = ContentItem.Meta.table_name
        for start in range(0, len(notification_ids), 25):
            chunk = notification_ids[start : start + 25]
            pending: Any = {table: [{"DeleteRequest": {"Key": {"id": {"N": str(i)}}}} for i in chunk]}
            for _ in range(attempts):
                pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
                if not pending:
                    break
            if pending:
                raise RuntimeError("notification contents not deleted: DynamoDB kept them back")

    def keys_created_before(self, status: str, cutoff: str) -> Iterator[tuple[int, str]]:
        """(id, created_at) of items of one status created before ``cutoff`` (the retention purge)."""
        for partition in all_shards(status):
            for item in OutboxItem.by_status.query(partition, OutboxItem.created_at < cutoff):
                yield int(item.id), item.created_at
