"""API keys, stored only as SHA-256 hashes of their tokens."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, PutError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.store.base import TableMeta, conditional_failed, register
from chalicelib.store.cache import ConfigCache
from chalicelib.store.pagination import query_page

KIND = "api_key"


class KeysById(GlobalSecondaryIndex["ApiKeyItem"]):
    """All keys under one partition, ordered by id: the table stays small."""

    class Meta:
        index_name = "by_id"
        projection = AllProjection()

    kind = UnicodeAttribute(hash_key=True)
    id = NumberAttribute(range_key=True)


@register
class ApiKeyItem(Model):
    class Meta(TableMeta):
        logical_name = "api_keys"

    token_hash = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute(default=KIND)
    id = NumberAttribute()
    name = UnicodeAttribute()
    role = UnicodeAttribute()
    prefix = UnicodeAttribute()
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute(null=True)
    revoked_at = UnicodeAttribute(null=True)

    by_id = KeysById()


_cache: ConfigCache[str, ApiKeyItem] = ConfigCache()


class KeyRepo:
    """API keys' data access; the authorizer reads through a per-container cache."""

    def create(self, item: ApiKeyItem) -> ApiKeyItem | None:
        """Store a new key; None if its token hash is taken (only a caller-chosen token can be)."""
        try:
            item.save(condition=ApiKeyItem.token_hash.does_not_exist())
        except PutError as exc:
            if not conditional_failed(exc):
                raise  # throttling and the like: the caller maps it (503) and nothing was written
            return None
        _cache.put(item.token_hash, item)
        return item

    def by_hash(self, token_hash: str) -> ApiKeyItem | None:
        try:
            return ApiKeyItem.get(token_hash)
        except DoesNotExist:
            return None

    def cached(self, token_hash: str) -> ApiKeyItem | None:
        """The key as this container last saw it, at most the config cache time ago."""
        return _cache.get(token_hash, lambda: self.by_hash(token_hash))

    def page(self, limit: int, cursor: str | None, convert: Any) -> Any:
        return query_page(lambda **page: ApiKeyItem.by_id.query(KIND, **page), limit, cursor, convert, "api_keys")

    def by_id(self, key_id: int) -> ApiKeyItem | None:
        for item in ApiKeyItem.by_id.query(KIND, ApiKeyItem.id == key_id):
            return item
        return None

    def revoke(self, item: ApiKeyItem, at: str) -> None:
        item.update(actions=[ApiKeyItem.revoked_at.set(at)])
        _cache.put(item.token_hash, item)
