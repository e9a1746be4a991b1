"""``Idempotency-Key`` handling shared by the create routes.

The first request with a key claims a record with a conditional put, runs, and
stores its response; a repeat with the same body gets that response back and
creates nothing; a repeat with another body, or while the first still runs, is 409.
A key is released only when the first request was refused or storage failed (nothing
written); any other failure keeps it, so a retry can never write a second time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import PutError, PynamoDBException

from chalicelib.clock import Clock
from chalicelib.domain.common import Principal
from chalicelib.domain.errors import Conflict, DomainError, InvalidField
from chalicelib.store.base import conditional_failed
from chalicelib.store.idempotency import IdempotencyItem

MAX_KEY_LENGTH = 255
FAILED = "failed"

Outcome = tuple[int, Any]


class Idempotency:
    def __init__(self, clock: Clock, ttl_seconds: int, in_progress_seconds: int = 60) -> None:
        self.clock = clock
        self.ttl_seconds = ttl_seconds
        self.in_progress_seconds = in_progress_seconds

    def run(
        self,
        scope: str,
        principal: Principal,
        key: str | None,
        body: bytes,
        create: Callable[[], Outcome],
    ) -> Outcome:
        if key is None:
            return create()
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise InvalidField("idempotency_key", f"Must be 1 to {MAX_KEY_LENGTH} printable characters.")
        now = self.clock()
        record = IdempotencyItem(
            f"{scope}#{principal.key_id}#{key}",
            request_hash=hashlib.sha256(body).hexdigest(),
            expires_at=now + timedelta(seconds=self.ttl_seconds),
            in_progress_until=int(now.timestamp()) + self.in_progress_seconds,
        )
        # A key is free if no record holds it, its first request was cut off long enough ago,
        # or its record expired (DynamoDB's TTL deletes items up to days late).
        free = (
            IdempotencyItem.key.does_not_exist()
            | ((IdempotencyItem.state == "in_progress") & (IdempotencyItem.in_progress_until < int(now.timestamp())))
            | (IdempotencyItem.expires_at < now)
        )
        try:
            record.save(condition=free)
        except PutError as exc:
            if not conditional_failed(exc):
                raise
            return self._replay(record)
        try:
            status, response = create()
        except (DomainError, PynamoDBException):
            # A refusal or a storage error: nothing was written, so the client may retry.
            record.delete()
            raise
        except Exception:
            # A failure after the write may have happened: a retry must not write twice.
            record.update(actions=[IdempotencyItem.state.set(FAILED)])
            raise
        record.update(
            actions=[
                IdempotencyItem.state.set("done"),
                IdempotencyItem.in_progress_until.remove(),
                IdempotencyItem.status_code.set(status),
                IdempotencyItem.response.set(json.dumps(response, default=str)),
            ]
        )
        return status, response

    @staticmethod
    def _replay(record: IdempotencyItem) -> Outcome:
        first = IdempotencyItem.get(record.key, consistent_read=True)
        if first.request_hash != record.request_hash:
            raise Conflict("Idempotency-Key was already used with a different request body.")
        if first.state == FAILED:
            raise Conflict(
                "The first request with this Idempotency-Key failed after it may have been carried out; "
                "check the result (GET) before sending it again with a new key."
            )
        if first.state != "done" or first.response is None:
            raise Conflict("A request with this Idempotency-Key is still in progress.")
        return int(first.status_code or 200), json.loads(first.response)
