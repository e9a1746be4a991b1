"""Notification channels and the outbox, as DynamoDB items.

Channels: hash key ``id``; every channel also carries ``kind`` (one partition of the
``by_kind`` index, ordered by id: the table is small), and the ``by_type`` and
``by_active`` indexes serve the list filters. A channel's name is unique because
creating one writes, in one transaction, the channel and a marker item
``channel-name#<casefolded name>`` in the counters table, each on the condition that
it does not exist yet.

Outbox: the delivery state (hash key ``id``) is a small item: claims and outcomes
rewrite it, so it carries no content. The content is one ``notification_content``
item written once at enqueue; the state keeps only the latest attempts. The outbox's
indexes are write-sharded (``<status>#<shard>``, ``<channel id>#<shard>``, see
:mod:`chalicelib.store.sharding`) and project only keys (plus ``due_at`` for the
sweeper and ``channel_id`` for the backlog): a list reads keys, then the items with BatchGetItem. See
``docs/design/data-layout.md``.
"""

from __future__ import annotations

import zlib
from typing import Any

from pynamodb.attributes import (
    Attribute,
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.constants import BINARY, STRING
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection

from chalicelib.store.base import StoredModel, TableMeta, register

CHANNEL_KIND = "channel"
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
class ChannelItem(StoredModel):
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
    rate_limit_per_second = NumberAttribute(null=True)  # null: unlimited
    disabled_reason = UnicodeAttribute(null=True)  # why channel health switched it off

    by_kind = ChannelsByKind()
    by_type = ChannelsByType()
    by_active = ChannelsByActive()


class ChannelNameMarker(StoredModel):
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
    """``<status>#<shard>`` newest first: the status filter, the unfiltered list (every
    status merged), the sweeper (``pending`` with ``due_at``), the backlog (``pending``
    per ``channel_id``) and the retention purge. ``channel_id`` never changes, so
    projecting it costs no extra index write."""

    class Meta:
        index_name = "by_status_shard"
        projection = IncludeProjection(["due_at", "channel_id"])

    status_key = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class OutboxByChannel(GlobalSecondaryIndex["OutboxItem"]):
    """``<channel id>#<shard>`` newest first: the channel filter and channel exports."""

    class Meta:
        index_name = "by_channel_shard"
        projection = KeysOnlyProjection()

    channel_key = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


@register
class OutboxItem(StoredModel):
    """A notification's delivery state: the small item that claims and outcomes update.

    Its content lives in :class:`ContentItem`, written once.
    """

    class Meta(TableMeta):
        logical_name = "notification_outbox"

    id = NumberAttribute(hash_key=True)
    status = UnicodeAttribute()  # pending | sent | failed
    status_key = UnicodeAttribute()  # "<status>#<shard>": the by_status_shard index's key
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    channel_id = NumberAttribute()
    channel_key = UnicodeAttribute()  # "<channel id>#<shard>"
    channel_type = UnicodeAttribute()
    attempts = NumberAttribute(default=0)
    cycle_attempts = NumberAttribute(default=0)  # attempts since the last (re)start of the retry schedule
    last_error = UnicodeAttribute(null=True)
    history = ListAttribute(of=AttemptMap, default=list)  # the latest HISTORY_KEPT attempts
    sent_at = UnicodeAttribute(null=True)
    provider_message_id = UnicodeAttribute(null=True)
    next_attempt_at = UnicodeAttribute(null=True)
    lease_owner = UnicodeAttribute(null=True)
    lease_until = UnicodeAttribute(null=True)
    due_at = UnicodeAttribute(null=True)  # pending only: when the sweeper may re-enqueue it
    requested_by = UnicodeAttribute(null=True)
    event_id = UnicodeAttribute(null=True)  # set when the notification carries a system event (its webhook-id)

    by_status = OutboxByStatus()
    by_channel = OutboxByChannel()


class CompactText(Attribute[str]):
    """A string stored as a binary value, zlib-compressed when that makes it smaller.

    A notification's body is most of its content item: compressed, a 1 KB text body
    fits the item in one 1 KB write unit instead of two (and its reads shrink alike).
    The first byte says how the rest is stored (``z`` compressed, ``u`` UTF-8 as is);
    a plain string value (items written before) reads as it is.
    """

    attr_type = BINARY

    def serialize(self, value: str) -> bytes:
        raw = value.encode("utf-8")
        packed = zlib.compress(raw, 9)
        return b"z" + packed if len(packed) < len(raw) else b"u" + raw

    def get_value(self, value: dict[str, Any]) -> Any:
        return value[STRING] if STRING in value else super().get_value(value)

    def deserialize(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        data = bytes(value)
        return zlib.decompress(data[1:]).decode("utf-8") if data[:1] == b"z" else data[1:].decode("utf-8")


@register
class ContentItem(StoredModel):
    """What a notification says: written once at enqueue, never updated."""

    class Meta(TableMeta):
        logical_name = "notification_content"

    id = NumberAttribute(hash_key=True)
    subject = UnicodeAttribute()
    body = CompactText()
    payload = JSONAttribute(null=True)
