"""The event log and its fan-out markers, as DynamoDB items of the ``events`` table.

An event is the item ``(id, "event")``. Its log is read through two indexes whose
partition keys are write-sharded by a hash of the event id (``by_time``: ``NN``,
``by_type``: ``<type>#NN``), sorted by ``time#id``; a page queries every shard and
merges newest first, the cursor carrying each shard's position. While its fan-out is
incomplete the event also carries ``fanout_state`` (``pending#NN``) and ``due_at``:
the sparse ``by_fanout`` index is what the sweeper reads.

A fan-out marker ``(id, "to#<generation>#<subscription>#<channel>")`` holds the id of
the outbox notification made for that target. It is written with a condition that it
does not exist, before the notification, so a retried fan-out finds the id it chose
the first time and never makes a second notification for the same target.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterator
from typing import Any

from pynamodb.attributes import JSONAttribute, ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection

from chalicelib.store.base import StoredModel, TableMeta, conditional_failed, register
from chalicelib.store.cursors import scope_of
from chalicelib.store.pagination import decode_cursor, encode_cursor

EVENT_PART = "event"
PENDING = "pending"
HIGHEST = "\uffff"


class EventsByTime(GlobalSecondaryIndex["EventItem"]):
    class Meta:
        index_name = "by_time"
        projection = AllProjection()

    log_shard = UnicodeAttribute(hash_key=True)
    time_key = UnicodeAttribute(range_key=True)


class EventsByType(GlobalSecondaryIndex["EventItem"]):
    class Meta:
        index_name = "by_type"
        projection = AllProjection()

    type_shard = UnicodeAttribute(hash_key=True)
    time_key = UnicodeAttribute(range_key=True)


class EventsByFanout(GlobalSecondaryIndex["EventItem"]):
    class Meta:
        index_name = "by_fanout"
        projection = KeysOnlyProjection()

    fanout_state = UnicodeAttribute(hash_key=True)
    due_at = UnicodeAttribute(range_key=True)


@register
class EventItem(StoredModel):
    class Meta(TableMeta):
        logical_name = "events"

    id = UnicodeAttribute(hash_key=True)
    part = UnicodeAttribute(range_key=True, default=EVENT_PART)
    type = UnicodeAttribute()
    time = UnicodeAttribute()
    data = JSONAttribute()
    log_shard = UnicodeAttribute()
    type_shard = UnicodeAttribute()
    time_key = UnicodeAttribute()
    generation = NumberAttribute(default=0)
    targets = ListAttribute[str](default=list)  # "<subscription>#<channel>" of the generation
    notification_ids = ListAttribute[int](default=list)
    fanout_state = UnicodeAttribute(null=True)  # "pending#NN" until the fan-out is complete (sparse by_fanout)
    due_at = UnicodeAttribute(null=True)

    by_time = EventsByTime()
    by_type = EventsByType()
    by_fanout = EventsByFanout()


class FanoutMarker(StoredModel):
    """Not a table of its own: a ``to#...`` item of the events table."""

    class Meta(TableMeta):
        logical_name = "events"

    id = UnicodeAttribute(hash_key=True)
    part = UnicodeAttribute(range_key=True)
    notification_id = NumberAttribute()


def shard_of(event_id: str, shards: int) -> str:
    return f"{int(hashlib.sha256(event_id.encode()).hexdigest()[:8], 16) % max(1, shards):02d}"


def marker_part(generation: int, subscription_id: int, channel_id: int) -> str:
    return f"to#{generation}#{subscription_id}#{channel_id}"


class EventLog:
    """The event log's reads and writes; ``shards``: how many ways its keys are split."""

    def __init__(self, shards: int) -> None:
        self.shards = max(1, shards)

    def put_new(self, event: dict[str, Any], targets: list[str], now: str) -> bool:
        """Write a new event with its planned targets; ``False`` if an event with its id exists."""
        shard = shard_of(event["id"], self.shards)
        item = EventItem(
            event["id"],
            EVENT_PART,
            type=event["type"],
            time=event["time"],
            data=event["data"],
            log_shard=shard,
            type_shard=f"{event['type']}#{shard}",
            time_key=f"{event['time']}#{event['id']}",
            generation=0,
            targets=targets,
            notification_ids=[],
            fanout_state=f"{PENDING}#{shard}",
            due_at=now,
        )
        try:
            item.save(condition=EventItem.id.does_not_exist())
        except PutError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True

    def get(self, event_id: str, consistent: bool = False) -> EventItem | None:
        try:
            return EventItem.get(event_id, EVENT_PART, consistent_read=consistent)
        except DoesNotExist:
            return None

    def claim_target(
        self, event_id: str, generation: int, subscription_id: int, channel_id: int, candidate: int
    ) -> int:
        """The notification id of one target: ``candidate`` if this call is first, else the one chosen before."""
        part = marker_part(generation, subscription_id, channel_id)
        try:
            FanoutMarker(event_id, part, notification_id=candidate).save(condition=FanoutMarker.id.does_not_exist())
            return candidate
        except PutError as exc:
            if not conditional_failed(exc):
                raise
        return int(FanoutMarker.get(event_id, part, consistent_read=True).notification_id)

    def complete(self, event_id: str, generation: int, notification_ids: list[int]) -> None:
        """Record the fan-out of ``generation`` as done (a later resend's generation is left alone)."""
        item = EventItem(event_id, EVENT_PART)
        actions: list[Any] = [EventItem.fanout_state.remove(), EventItem.due_at.remove()]
        if notification_ids:
            actions.append(EventItem.notification_ids.set(EventItem.notification_ids.append(notification_ids)))
        try:
            item.update(actions=actions, condition=EventItem.generation == generation)
        except UpdateError as exc:
            if not conditional_failed(exc):
                raise

    def start_resend(self, event_id: str, targets: list[str], now: str) -> int:
        """Open a new fan-out generation for the event; returns its number."""
        item = EventItem(event_id, EVENT_PART)
        shard = shard_of(event_id, self.shards)
        item.update(
            actions=[
                EventItem.generation.add(1),
                EventItem.targets.set(targets),
                EventItem.fanout_state.set(f"{PENDING}#{shard}"),
                EventItem.due_at.set(now),
            ],
            condition=EventItem.id.exists(),
        )
        return int(item.generation)

    def postpone(self, event_id: str, generation: int, due_at: str, cutoff: str) -> bool:
        """Claim an overdue fan-out for one sweeper: ``False`` if another moved it first."""
        try:
            EventItem(event_id, EVENT_PART).update(
                actions=[EventItem.due_at.set(due_at)],
                condition=(EventItem.generation == generation) & (EventItem.due_at < cutoff),
            )
        except UpdateError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True

    def overdue(self, cutoff: str, limit: int) -> Iterator[str]:
        """Ids of events whose fan-out was due before ``cutoff``, every shard."""
        for shard in range(self.shards):
            for key in EventItem.by_fanout.query(f"{PENDING}#{shard:02d}", EventItem.due_at < cutoff, limit=limit):
                yield str(key.id)

    def page(
        self, event_type: str | None, since: str | None, until: str | None, limit: int, cursor: str | None
    ) -> tuple[list[EventItem], str | None]:
        """Newest first, across every shard: each shard read from where the last page left it."""
        scope = scope_of("/system/events", type=event_type, since=since, until=until)
        positions: dict[str, str] = dict(decode_cursor(cursor, scope) or {})
        low = since or "0"  # every ISO time sorts after "0"
        high = (until + HIGHEST) if until else HIGHEST
        streams = []
        for number in range(self.shards):
            shard = f"{number:02d}"
            after = positions.get(shard, high)
            if after == "":
                continue  # this shard is exhausted
            hash_key = f"{event_type}#{shard}" if event_type else shard
            index = EventItem.by_type if event_type else EventItem.by_time
            results = index.query(
                hash_key, EventItem.time_key.between(low, min(after, high)), scan_index_forward=False, limit=limit + 1
            )
            streams.append((shard, [item for item in results if item.time_key != after][:limit]))
        merged = heapq.merge(
            *[[(item.time_key, shard, item) for item in items] for shard, items in streams],
            key=lambda entry: entry[0],
            reverse=True,
        )
        taken = [entry for _, entry in zip(range(limit), merged, strict=False)]
        if len(taken) < limit:
            return [item for _, _, item in taken], None
        next_positions = dict(positions)
        for shard, items in streams:
            used = [item for key, owner, item in taken if owner == shard]
            if used:
                next_positions[shard] = used[-1].time_key
            elif not items:
                next_positions[shard] = ""
        return [item for _, _, item in taken], encode_cursor(next_positions, scope)
