"""API keys: created with a token shown once, stored as a SHA-256 hash, revocable."""

from __future__ import annotations

import hashlib
import secrets

from pynamodb.exceptions import PutError

from chalicelib.clock import Clock, isoformat, parse_iso
from chalicelib.domain.common import Principal, Role
from chalicelib.domain.errors import NotFound
from chalicelib.domain.keys import ApiKeyView, CreatedKey, CreateKey
from chalicelib.store.base import conditional_failed
from chalicelib.store.counters import IdAllocator
from chalicelib.store.keys import KIND, ApiKeyItem
from chalicelib.store.pagination import query_page

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
    )


class ApiKeys:
    def __init__(self, ids: IdAllocator, clock: Clock) -> None:
        self.ids = ids
        self.clock = clock

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
        )
        try:
            item.save(condition=ApiKeyItem.token_hash.does_not_exist())
        except PutError as exc:
            if not conditional_failed(exc):
                raise  # throttling and the like: the caller maps it (503) and nothing was written
            # Only a caller-chosen token can collide (the local stack's admin token): keep the first.
            existing = ApiKeyItem.get(item.token_hash)
            return CreatedKey(**_view(existing).model_dump(), token=token)
        return CreatedKey(**_view(item).model_dump(), token=token)

    def authenticate(self, token: str) -> Principal | None:
        if not token or len(token) > 512:
            return None
        try:
            item = ApiKeyItem.get(hash_token(token))
        except ApiKeyItem.DoesNotExist:
            return None
        if item.revoked_at:
            return None
        return Principal(key_id=int(item.id), name=item.name, role=Role(item.role))

    def page(self, limit: int, cursor: str | None) -> tuple[list[ApiKeyView], str | None]:
        return query_page(lambda **page: ApiKeyItem.by_id.query(KIND, **page), limit, cursor, _view, "api_keys")

    def _find(self, key_id: int) -> ApiKeyItem:
        for item in ApiKeyItem.by_id.query(KIND, ApiKeyItem.id == key_id):
            return item
        raise NotFound(f"API key {key_id} not found.")

    def revoke(self, key_id: int) -> ApiKeyView:
        item = self._find(key_id)
        if not item.revoked_at:
            item.update(actions=[ApiKeyItem.revoked_at.set(isoformat(self.clock()))])
        return _view(item)
