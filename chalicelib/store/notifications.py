"""Notification channels and the outbox, as DynamoDB items.

Channels: hash key ``id``; every channel also carries ``kind`` (one partition of the
``by_kind`` index, ordered by id: the table is small), and the ``by_type`` and
``by_active`` indexes serve the list filters. A channel's name is unique because
creating one writes, in one transaction, the channel and a marker item
``channel-name#<casefolded name>`` in the counters table, each on the condition that
it does not exist yet.

Outbox: hash key ``id``; ``by_status`` (status, created_at) and ``by_channel``
(channel_id, created_at) serve the list filters and the retention purge, ``by_time``
(kind, created_at) the unfiltered list and exports. ``by_due`` is sparse: only a
``pending`` item has ``queue_state`` and ``due_at`` (when its next SQS message is
expected to be handled), so the sweeper reads exactly the items it may have to
re-enqueue.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.store.base import TableMeta, register

CHANNEL_KIND = "channel"
NOTIFICATION_KIND = "notification"
QUEUE_STATE_PENDING = "pending"
NAME_MARKER_PREFIX = "channel-name#"


class ChannelsByKind(GlobalSecondaryIndex["ChannelItem"]):
    class Meta:
        index_name = "by_kind"
        projection = AllProjection()

    kind = UnicodeAttribute(hash_key=True)
    id = NumberAttribute(range_key=True)


class ChannelsByType(GlobalSecondaryIndex["ChannelItem"]):
    class Meta:
        index_name = "by_type"
        projection = AllProjection()

    channel_type = UnicodeAttribute(hash_key=True)
    id = NumberAttribute(range_key=True)


class ChannelsByActive(GlobalSecondaryIndex["ChannelItem"]):
    class Meta:
        index_name = "by_active"
        projection = AllProjection()

    active_state = UnicodeAttribute(hash_key=True)
    id = NumberAttribute(range_key=True)


@register
class ChannelItem(Model):
    class Meta(TableMeta):
        logical_name = "notification_channels"

    id = NumberAttribute(hash_key=True)
    kind = UnicodeAttribute(default=CHANNEL_KIND)
    name = UnicodeAttribute()
    channel_type = UnicodeAttribute()
    target = UnicodeAttribute()
    active = BooleanAttribute(default=True)
    active_state = UnicodeAttribute()  # "true" | "false": the by_active index's key
    description = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    signing_secret = UnicodeAttribute(null=True)
    previous_secret = UnicodeAttribute(null=True)
    previous_secret_expires_at = UnicodeAttribute(null=True)
    secret_rotated_at = UnicodeAttribute(null=True)

    by_kind = ChannelsByKind()
    by_type = ChannelsByType()
    by_active = ChannelsByActive()


class ChannelNameMarker(Model):
    """Not a table of its own: a ``channel-name#...`` item of the counters table."""

    class Meta(TableMeta):
        logical_name = "counters"

    name = UnicodeAttribute(hash_key=True)
    channel_id = NumberAttribute()


def name_marker_key(name: str) -> str:
    return NAME_MARKER_PREFIX + name.casefold()


class AttemptMap(MapAttribute[str, object]):
    number = NumberAttribute()
    at = UnicodeAttribute()
    outcome = UnicodeAttribute()
    duration_ms = NumberAttribute()
    http_status = NumberAttribute(null=True)
    error = UnicodeAttribute(null=True)
    provider_message_id = UnicodeAttribute(null=True)
    next_attempt_at = UnicodeAttribute(null=True)


class OutboxByStatus(GlobalSecondaryIndex["OutboxItem"]):
    class Meta:
        index_name = "by_status"
        projection = AllProjection()

    status = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class OutboxByChannel(GlobalSecondaryIndex["OutboxItem"]):
    class Meta:
        index_name = "by_channel"
        projection = AllProjection()

    channel_id = NumberAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class OutboxByTime(GlobalSecondaryIndex["OutboxItem"]):
    class Meta:
        index_name = "by_time"
        projection = AllProjection()

    kind = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class OutboxByDue(GlobalSecondaryIndex["OutboxItem"]):
    class Meta:
        index_name = "by_due"
        projection = KeysOnlyProjection()

    queue_state = UnicodeAttribute(hash_key=True)
    due_at = UnicodeAttribute(range_key=True)


@register
class OutboxItem(Model):
    class Meta(TableMeta):
        logical_name = "notification_outbox"

    id = NumberAttribute(hash_key=True)
    kind = UnicodeAttribute(default=NOTIFICATION_KIND)
    status = UnicodeAttribute()  # pending | sent | failed
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    channel_id = NumberAttribute()
    channel_type = UnicodeAttribute()
    subject = UnicodeAttribute()
    body = UnicodeAttribute()
    payload = JSONAttribute(null=True)
    attempts = NumberAttribute(default=0)
    cycle_attempts = NumberAttribute(default=0)  # attempts since the last (re)start of the retry schedule
    last_error = UnicodeAttribute(null=True)
    history = ListAttribute(of=AttemptMap, default=list)
    sent_at = UnicodeAttribute(null=True)
    provider_message_id = UnicodeAttribute(null=True)
    next_attempt_at = UnicodeAttribute(null=True)
    lease_owner = UnicodeAttribute(null=True)
    lease_until = UnicodeAttribute(null=True)
    queue_state = UnicodeAttribute(null=True)  # "pending" while pending, absent otherwise (sparse by_due)
    due_at = UnicodeAttribute(null=True)
    requested_by = UnicodeAttribute(null=True)
    event_id = UnicodeAttribute(null=True)  # set when the notification carries a system event (its webhook-id)

    by_status = OutboxByStatus()
    by_channel = OutboxByChannel()
    by_time = OutboxByTime()
    by_due = OutboxByDue()
