"""Rate-limit state as DynamoDB items (the ``rate_limits`` table, hash key ``pk``).

- ``bucket#<channel id>``: a channel's token bucket (``tokens``, ``stamp``), leased by
  an optimistic conditional write on the ``stamp`` that was read;
- ``key#<key id>#<minute>``: an API key's request count in one minute, incremented by
  one ``UpdateItem ADD`` per block of requests a container leases, on the condition
  that the block fits under the limit; expires by TTL.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from chalicelib.domain.ratelimit import Bucket
from chalicelib.store.base import StoredModel, TableMeta, conditional_failed, register

WINDOW_TTL_SECONDS = 300


@register
class RateBucketItem(StoredModel):
    class Meta(TableMeta):
        logical_name = "rate_limits"

    pk = UnicodeAttribute(hash_key=True)
    tokens = NumberAttribute(null=True)
    stamp = NumberAttribute(null=True)
    expires_at = TTLAttribute(null=True)  # key windows only


class KeyWindowItem(StoredModel):
    """An API key's minute: an item of the ``rate_limits`` table."""

    class Meta(TableMeta):
        logical_name = "rate_limits"

    pk = UnicodeAttribute(hash_key=True)
    used = NumberAttribute(default=0)
    expires_at = TTLAttribute(null=True)


class RateLimitRepo:
    def bucket(self, channel_id: int) -> Bucket | None:
        try:
            item = RateBucketItem.get(f"bucket#{channel_id}", consistent_read=True)
        except DoesNotExist:
            return None
        return Bucket(float(item.tokens or 0), float(item.stamp or 0))

    def replace_bucket(self, channel_id: int, old: Bucket | None, new: Bucket) -> bool:
        """Store ``new`` if the bucket is still ``old`` (nobody leased in between)."""
        item = RateBucketItem(f"bucket#{channel_id}", tokens=new.tokens, stamp=new.stamp)
        condition = RateBucketItem.pk.does_not_exist() if old is None else RateBucketItem.stamp == old.stamp
        try:
            item.save(condition=condition)
        except PutError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True

    def count_request(self, key_id: int, window_start: int, limit: int, block: int = 1) -> int:
        """Count ``block`` requests in the key's window; returns the count, or ``limit + 1``
        when they do not fit under the limit.

        The increment is conditional, so requests over the limit are not counted (and
        cost a failed conditional write, which DynamoDB bills as a write).
        """
        item = KeyWindowItem(f"key#{key_id}#{window_start}")
        try:
            item.update(
                actions=[
                    KeyWindowItem.used.add(block),
                    KeyWindowItem.expires_at.set(datetime.fromtimestamp(window_start + WINDOW_TTL_SECONDS, UTC)),
                ],
                condition=KeyWindowItem.used.does_not_exist() | (KeyWindowItem.used <= limit - block),
            )
        except UpdateError as exc:
            if conditional_failed(exc):
                return limit + 1
            raise
        return int(item.used)
