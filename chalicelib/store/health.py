"""Channel health as DynamoDB items (the ``channel_health`` table).

Two shapes share the table, keyed ``pk``/``sk``:

- the breaker state of a channel: ``pk = state#<channel id>``, ``sk = state``; written
  only on a change (a trip, a probe, the first failure after a success, ...), each
  write conditional on the ``version`` it read, so concurrent workers never lose one;
- window counters, grouped: channels fall into :data:`GROUPS` groups
  (``channel id % GROUPS``) and an item ``pk = win#g<group:02d>#<shard>``,
  ``sk = <slot start:012d>`` holds, for each channel of its group that had outcomes in
  that slot from the writers on that shard, ``a.<channel id>.<generation>`` (attempts)
  and ``f.<channel id>.<generation>`` (failures), numbers added with ``UpdateItem ADD``,
  plus ``expires_at`` (TTL, after twice the window). A worker's flush writes one item
  per group it touched (:meth:`HealthRepo.add_outcomes`), not one per channel: 100
  channels cost 8 writes, not 100. Each channel adds ~30 bytes to an item (two names of
  ~10 bytes and their numbers), so an item stays far below DynamoDB's 400 KB (about
  13,000 channels of one group active in one slot on one shard). The shard is random
  per flush, so busy groups spread their writes over :data:`SHARDS` partition keys (no
  hot key at 10,000 deliveries/s); reading a channel's window queries every shard of
  its group, projecting only that channel's two attributes (a read still costs the
  whole items' size). A generation bump (``enable``) starts a fresh window: the older
  generation's attributes are not read and expire with their items.

The window items of the per-channel layout this replaced (``pk = win#<channel id>#<shard>``,
``sk = <generation>#<slot>``, ``attempts``/``failures``) are never read again and expire
by their TTL; nothing needs migrating (the ``g`` keeps the two key spaces apart).
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.attributes import BooleanAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, PutError, QueryError, UpdateError

from chalicelib.clock import isoformat, parse_iso
from chalicelib.domain.health import Health, HealthState, Window
from chalicelib.store.base import (
    ADDS_PER_WRITE,
    StoredModel,
    TableMeta,
    add_counters,
    conditional_failed,
    register,
    shared_connection,
)

SHARDS = 8
GROUPS = 8
STATE_SK = "state"

# channel id -> (generation, attempts, failures)
Outcomes = dict[int, tuple[int, int, int]]


@register
class HealthStateItem(StoredModel):
    class Meta(TableMeta):
        logical_name = "channel_health"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    state = UnicodeAttribute(null=True)
    generation = NumberAttribute(null=True)
    consecutive_failures = NumberAttribute(null=True)
    failing_since = UnicodeAttribute(null=True)
    opened_at = UnicodeAttribute(null=True)
    next_probe_at = UnicodeAttribute(null=True)
    cooldown_seconds = NumberAttribute(null=True)
    trips = NumberAttribute(null=True)
    probe_until = UnicodeAttribute(null=True)
    paused_until = UnicodeAttribute(null=True)
    disabled_at = UnicodeAttribute(null=True)
    disabled_reason = UnicodeAttribute(null=True)
    troubled = BooleanAttribute(null=True)
    version = NumberAttribute(null=True)
    expires_at = TTLAttribute(null=True)  # window counters only


class HealthWindowItem(StoredModel):
    """A window-counter item of the ``channel_health`` table (see the module doc).

    Its counters are attributes named by data (``a.<channel id>.<generation>``), so
    :class:`HealthRepo` writes and reads them with the low-level client; the model
    only names the table and its keys.
    """

    class Meta(TableMeta):
        logical_name = "channel_health"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    expires_at = TTLAttribute(null=True)


def _time(value: str | None) -> datetime | None:
    return parse_iso(value) if value else None


def _text(value: datetime | None) -> str | None:
    return isoformat(value) if value is not None else None


def group_of(channel_id: int) -> int:
    return channel_id % GROUPS


def _window_pk(group: int, shard: int) -> str:
    return f"win#g{group:02d}#{shard}"


def _slot_key(slot: int) -> str:
    return f"{slot:012d}"


def _names(channel_id: int, generation: int) -> tuple[str, str]:
    """The attempts and failures attributes of a channel's generation in a window item."""
    return f"a.{channel_id}.{generation}", f"f.{channel_id}.{generation}"


def _client() -> Any:
    return shared_connection().client


class HealthRepo:
    def load(self, channel_id: int) -> Health:
        try:
            item = HealthStateItem.get(f"state#{channel_id}", STATE_SK, consistent_read=True)
        except DoesNotExist:
            return Health()
        return Health(
            state=HealthState(item.state or HealthState.healthy.value),
            generation=int(item.generation or 0),
            consecutive_failures=int(item.consecutive_failures or 0),
            failing_since=_time(item.failing_since),
            opened_at=_time(item.opened_at),
            next_probe_at=_time(item.next_probe_at),
            cooldown_seconds=int(item.cooldown_seconds) if item.cooldown_seconds is not None else None,
            trips=int(item.trips or 0),
            probe_until=_time(item.probe_until),
            paused_until=_time(item.paused_until),
            disabled_at=_time(item.disabled_at),
            disabled_reason=item.disabled_reason,
            troubled=bool(item.troubled),
            version=int(item.version or 0),
        )

    def save(self, channel_id: int, health: Health) -> Health | None:
        """Write ``health`` if the stored version is still ``health.version``; the saved state, or None."""
        item = HealthStateItem(
            f"state#{channel_id}",
            STATE_SK,
            state=health.state.value,
            generation=health.generation,
            consecutive_failures=health.consecutive_failures,
            failing_since=_text(health.failing_since),
            opened_at=_text(health.opened_at),
            next_probe_at=_text(health.next_probe_at),
            cooldown_seconds=health.cooldown_seconds,
            trips=health.trips,
            probe_until=_text(health.probe_until),
            paused_until=_text(health.paused_until),
            disabled_at=_text(health.disabled_at),
            disabled_reason=health.disabled_reason,
            troubled=health.troubled,
            version=health.version + 1,
        )
        condition = (
            HealthStateItem.pk.does_not_exist() if health.version == 0 else HealthStateItem.version == health.version
        )
        try:
            item.save(condition=condition)
        except PutError as exc:
            if conditional_failed(exc):
                return None
            raise
        return replace(health, version=health.version + 1)

    def add_outcomes(self, slot: int, shard: int, expires: int, counts: Outcomes) -> None:
        """Add each channel's ``(generation, attempts, failures)`` to its group's item of ``slot``.

        One ``UpdateItem`` per group touched (a group with more than 50 channels in
        one call takes one more per :data:`ADDS_PER_WRITE` counters); zero counts are
        not written.
        """
        by_group: dict[int, list[tuple[str, int]]] = defaultdict(list)
        for channel_id, (generation, attempts, failures) in sorted(counts.items()):
            attempts_name, failures_name = _names(channel_id, generation)
            adds = [(name, value) for name, value in ((attempts_name, attempts), (failures_name, failures)) if value]
            by_group[group_of(channel_id)].extend(adds)
        for group, adds in sorted(by_group.items()):
            for start in range(0, len(adds), ADDS_PER_WRITE):
                self._add(_window_pk(group, shard), _slot_key(slot), adds[start : start + ADDS_PER_WRITE], expires)

    def _add(self, pk: str, sk: str, adds: list[tuple[str, int]], expires: int) -> None:
        expression, names, values = add_counters([(name, str(value)) for name, value in adds])
        try:
            _client().update_item(
                TableName=HealthWindowItem.Meta.table_name,
                Key={"pk": {"S": pk}, "sk": {"S": sk}},
                UpdateExpression=f"{expression} SET #e = :e",
                ExpressionAttributeNames={**names, "#e": "expires_at"},
                ExpressionAttributeValues={**values, ":e": {"N": str(expires)}},
            )
        except (BotoCoreError, ClientError) as exc:  # as PynamoDB would raise it: a StorageError
            raise UpdateError("Failed to add window counters", exc) from exc

    def window(self, channel_id: int, generation: int, from_slot: int) -> Window:
        """The channel's attempts and failures of ``generation`` in the slots from ``from_slot``.

        Queries the group's :data:`SHARDS` keys in parallel, projecting only the channel's
        two attributes (an item without them comes back empty).
        """
        client, table = _client(), HealthWindowItem.Meta.table_name
        attempts_name, failures_name = _names(channel_id, generation)
        requests = [
            {
                "TableName": table,
                "KeyConditionExpression": "#pk = :pk AND #sk >= :from",
                "ProjectionExpression": "#a, #f",
                "ExpressionAttributeNames": {"#pk": "pk", "#sk": "sk", "#a": attempts_name, "#f": failures_name},
                "ExpressionAttributeValues": {
                    ":pk": {"S": _window_pk(group_of(channel_id), shard)},
                    ":from": {"S": _slot_key(from_slot)},
                },
                "ConsistentRead": True,
            }
            for shard in range(SHARDS)
        ]
        with ThreadPoolExecutor(max_workers=SHARDS) as pool:
            items = [
                item
                for shard_items in pool.map(lambda request: _query(client, request), requests)
                for item in shard_items
            ]
        return Window(
            sum(int(item.get(attempts_name, {}).get("N", 0)) for item in items),
            sum(int(item.get(failures_name, {}).get("N", 0)) for item in items),
        )


def _query(client: Any, request: dict[str, Any]) -> list[dict[str, Any]]:
    """Every item (page after page) a Query returns, its errors raised as PynamoDB's."""
    items: list[dict[str, Any]] = []
    while True:
        try:
            page = client.query(**request)
        except (BotoCoreError, ClientError) as exc:
            raise QueryError("Failed to read window counters", exc) from exc
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        request = {**request, "ExclusiveStartKey": page["LastEvaluatedKey"]}
