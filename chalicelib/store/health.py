"""Channel health as DynamoDB items (the ``channel_health`` table).

Two shapes share the table, keyed ``pk``/``sk``:

- the breaker state of a channel: ``pk = state#<channel id>``, ``sk = state``; written
  only on a change (a trip, a probe, the first failure after a success, ...), each
  write conditional on the ``version`` it read, so concurrent workers never lose one;
- window counters: ``pk = win#<channel id>#<shard>``, ``sk = <generation>#<slot start>``,
  with ``attempts`` and ``failures`` added by one ``UpdateItem ADD`` per channel per
  SQS batch. The shard is random, so a busy channel's writes spread over
  :data:`SHARDS` partition keys (no hot key at 10,000 deliveries/s); reading the
  window queries every shard. Counters expire by TTL after the window.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from pynamodb.attributes import BooleanAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib.clock import isoformat, parse_iso
from chalicelib.domain.health import Health, HealthState, Window
from chalicelib.store.base import StoredModel, TableMeta, conditional_failed, register

SHARDS = 8
STATE_SK = "state"


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
    """A window counter: an item of the ``channel_health`` table (see the module doc)."""

    class Meta(TableMeta):
        logical_name = "channel_health"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    attempts = NumberAttribute(default=0)
    failures = NumberAttribute(default=0)
    expires_at = TTLAttribute(null=True)


def _time(value: str | None) -> datetime | None:
    return parse_iso(value) if value else None


def _text(value: datetime | None) -> str | None:
    return isoformat(value) if value is not None else None


def _slot_key(generation: int, slot: int) -> str:
    return f"{generation:010d}#{slot:012d}"


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

    def add_outcomes(
        self, channel_id: int, generation: int, slot: int, shard: int, attempts: int, failures: int, expires: int
    ) -> None:
        item = HealthWindowItem(f"win#{channel_id}#{shard}", _slot_key(generation, slot))
        item.update(
            actions=[
                HealthWindowItem.attempts.add(attempts),
                HealthWindowItem.failures.add(failures),
                HealthWindowItem.expires_at.set(datetime.fromtimestamp(expires, UTC)),
            ]
        )

    def window(self, channel_id: int, generation: int, from_slot: int) -> Window:
        attempts = failures = 0
        low, high = _slot_key(generation, from_slot), f"{generation:010d}#~"
        for shard in range(SHARDS):
            for item in HealthWindowItem.query(
                f"win#{channel_id}#{shard}", HealthWindowItem.sk.between(low, high), consistent_read=True
            ):
                attempts += int(item.attempts or 0)
                failures += int(item.failures or 0)
        return Window(attempts, failures)
