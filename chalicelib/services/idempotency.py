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

from chalicelib.clock import Clock
from chalicelib.domain.common import Principal
from chalicelib.domain.errors import Conflict, DomainError, InvalidField
from chalicelib.store.base import StorageError
from chalicelib.store.idempotency import DONE, FAILED, IdempotencyRepo

MAX_KEY_LENGTH = 255

Outcome = tuple[int, Any]


class Idempotency:
    def __init__(
        self, clock: Clock, ttl_seconds: int, in_progress_seconds: int = 60, repo: IdempotencyRepo | None = None
    ) -> None:
        self.repo = repo or IdempotencyRepo()
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
        record_key = f"{scope}#{principal.key_id}#{key}"
        request_hash = hashlib.sha256(body).hexdigest()
        expires_at = now + timedelta(seconds=self.ttl_seconds)
        in_progress_until = int(now.timestamp()) + self.in_progress_seconds
        if not self.repo.claim(record_key, request_hash, expires_at, in_progress_until, now):
            return self._replay(record_key, request_hash)
        try:
            status, response = create()
        except (DomainError, StorageError):
            # A refusal or a storage error: nothing was written, so the client may retry.
            self.repo.release(record_key)
            raise
        except Exception:
            # A failure after the write may have happened: a retry must not write twice.
            self.repo.mark_failed(record_key)
            raise
        self.repo.complete(record_key, status, json.dumps(response, default=str))
        return status, response

    def _replay(self, record_key: str, request_hash: str) -> Outcome:
        first = self.repo.first(record_key)
        if first.request_hash != request_hash:
            raise Conflict("Idempotency-Key was already used with a different request body.")
        if first.state == FAILED:
            raise Conflict(
                "The first request with this Idempotency-Key failed after it may have been carried out; "
                "check the result (GET) before sending it again with a new key."
            )
        if first.state != DONE or first.response is None:
            raise Conflict("A request with this Idempotency-Key is still in progress.")
        return int(first.status_code or 200), json.loads(first.response)
