"""Idempotency records: the first response to a key, kept for a day (DynamoDB TTL)."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.store.base import TableMeta, register


@register
class IdempotencyItem(Model):
    class Meta(TableMeta):
        logical_name = "idempotency"

    key = UnicodeAttribute(hash_key=True)
    request_hash = UnicodeAttribute()
    state = UnicodeAttribute(default="in_progress")
    status_code = NumberAttribute(null=True)
    response = UnicodeAttribute(null=True)
    expires_at = TTLAttribute()
    # While ``in_progress``: when (epoch seconds) the claim lapses, so a request cut off mid-way
    # (a Lambda timeout) blocks its key for minutes, not for the whole TTL.
    in_progress_until = NumberAttribute(null=True)
