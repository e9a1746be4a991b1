"""Idempotency records: the first response to a key, kept for a day (DynamoDB TTL)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError

from chalicelib.store.base import StoredModel, TableMeta, conditional_failed, register

IN_PROGRESS, DONE, FAILED = "in_progress", "done", "failed"


@register
class IdempotencyItem(StoredModel):
    class Meta(TableMeta):
        logical_name = "idempotency"

    key = UnicodeAttribute(hash_key=True)
    request_hash = UnicodeAttribute()
    state = UnicodeAttribute(default=IN_PROGRESS)
    status_code = NumberAttribute(null=True)
    response = UnicodeAttribute(null=True)
    expires_at = TTLAttribute()
    # While ``in_progress``: when (epoch seconds) the claim lapses, so a request cut off mid-way
    # (a Lambda timeout) blocks its key for minutes, not for the whole TTL.
    in_progress_until = NumberAttribute(null=True)


@dataclass(frozen=True)
class FirstRequest:
    """What the first request with a key left: its body's hash, its state and its answer."""

    request_hash: str
    state: str
    status_code: int | None
    response: str | None


class IdempotencyRepo:
    """The records behind ``Idempotency-Key``: claimed with a conditional put, then settled."""

    def claim(self, key: str, request_hash: str, expires_at: datetime, in_progress_until: int, now: datetime) -> bool:
        """Claim ``key`` for a request; False if another request holds it.

        A key is free if no record holds it, its first request was cut off long enough
        ago, or its record expired (DynamoDB's TTL deletes items up to days late).
        """
        record = IdempotencyItem(
            key, request_hash=request_hash, expires_at=expires_at, in_progress_until=in_progress_until
        )
        free = (
            IdempotencyItem.key.does_not_exist()
            | ((IdempotencyItem.state == IN_PROGRESS) & (IdempotencyItem.in_progress_until < int(now.timestamp())))
            | (IdempotencyItem.expires_at < now)
        )
        try:
            record.save(condition=free)
        except PutError as exc:
            if not conditional_failed(exc):
                raise
            return False
        return True

    def release(self, key: str) -> None:
        IdempotencyItem(key).delete()

    def mark_failed(self, key: str) -> None:
        IdempotencyItem(key).update(actions=[IdempotencyItem.state.set(FAILED)])

    def complete(self, key: str, status_code: int, response: str) -> None:
        IdempotencyItem(key).update(
            actions=[
                IdempotencyItem.state.set(DONE),
                IdempotencyItem.in_progress_until.remove(),
                IdempotencyItem.status_code.set(status_code),
                IdempotencyItem.response.set(response),
            ]
        )

    def first(self, key: str) -> FirstRequest:
        item = IdempotencyItem.get(key, consistent_read=True)
        status = int(item.status_code) if item.status_code is not None else None
        return FirstRequest(item.request_hash, item.state, status, item.response)
