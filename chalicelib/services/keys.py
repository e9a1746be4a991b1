"""API keys: created with a token shown once, stored as a SHA-256 hash, revocable."""

from __future__ import annotations

import hashlib
import secrets

from chalicelib.clock import Clock, isoformat, parse_iso
from chalicelib.domain.common import Principal, Role
from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.keys import ApiKeyView, CreatedKey, CreateKey
from chalicelib.store.counters import IdAllocator
from chalicelib.store.keys import ApiKeyItem, KeyRepo, NameTaken

TOKEN_PREFIX = "vk_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _view(item: ApiKeyItem) -> ApiKeyView:
    return ApiKeyView(
        id=int(item.id),
        name=item.name,
        role=Role(item.role),
        prefix=item.prefix,
        created_at=parse_iso(item.created_at),
        created_by=item.created_by,
        revoked_at=parse_iso(item.revoked_at) if item.revoked_at else None,
        rate_limit_per_minute=_limit(item),
    )


def _limit(item: ApiKeyItem) -> int | None:
    return int(item.rate_limit_per_minute) if item.rate_limit_per_minute is not None else None


class ApiKeys:
    def __init__(self, ids: IdAllocator, clock: Clock, repo: KeyRepo | None = None) -> None:
        self.ids = ids
        self.clock = clock
        self.repo = repo or KeyRepo()

    def create(self, request: CreateKey, created_by: str | None, token: str | None = None) -> CreatedKey:
        token = token or TOKEN_PREFIX + secrets.token_urlsafe(32)
        item = ApiKeyItem(
            hash_token(token),
            id=self.ids.next_id("api_keys"),
            name=request.name,
            role=request.role.value,
            prefix=token[:8],
            created_at=isoformat(self.clock()),
            created_by=created_by,
            rate_limit_per_minute=request.rate_limit_per_minute,
        )
        try:
            stored = self.repo.create(item)
        except NameTaken:
            # The audit log names the actor; two keys of one name would be told apart by id only.
            raise Conflict(f"An API key named {request.name!r} already exists.") from None
        if stored is None:
            # Only a caller-chosen token can collide (the local stack's admin token): keep the first.
            existing = self.repo.by_hash(item.token_hash)
            if existing is None:
                raise NotFound("API key vanished while it was created.")
            return CreatedKey(**_view(existing).model_dump(), token=token)
        return CreatedKey(**_view(stored).model_dump(), token=token)

    def authenticate(self, token: str) -> Principal | None:
        """Through the per-container key cache: a revocation elsewhere applies within its bound."""
        if not token or len(token) > 512:
            return None
        item = self.repo.cached(hash_token(token))
        if item is None or item.revoked_at:
            return None
        return Principal(key_id=int(item.id), name=item.name, role=Role(item.role), rate_limit_per_minute=_limit(item))

    def page(self, limit: int, cursor: str | None) -> tuple[list[ApiKeyView], str | None]:
        result: tuple[list[ApiKeyView], str | None] = self.repo.page(limit, cursor, _view)
        return result

    def _find(self, key_id: int) -> ApiKeyItem:
        item = self.repo.by_id(key_id)
        if item is None:
            raise NotFound(f"API key {key_id} not found.")
        return item

    def revoke(self, key_id: int) -> ApiKeyView:
        item = self._find(key_id)
        if not item.revoked_at:
            self.repo.revoke(item, isoformat(self.clock()))
        return _view(item)
