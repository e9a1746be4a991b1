"""API keys, stored only as SHA-256 hashes of their tokens."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.transactions import TransactWrite

from chalicelib.store.base import StoredModel, TableMeta, conditional_failed, register, shared_connection
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
class ApiKeyItem(StoredModel):
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
    rate_limit_per_minute = NumberAttribute(null=True)  # null: the default limit

    by_id = KeysById()


class KeyNameMarker(StoredModel):
    """Not a table of its own: a ``key-name#...`` item of the counters table; it makes a name taken once."""

    class Meta(TableMeta):
        logical_name = "counters"

    name = UnicodeAttribute(hash_key=True)
    key_id = NumberAttribute()


NAME_MARKER_PREFIX = "key-name#"


def name_marker_key(name: str) -> str:
    return NAME_MARKER_PREFIX + name.casefold()


class NameTaken(Exception):
    """Another key (revoked or not) has this name, case-insensitively."""


_cache: ConfigCache[str, ApiKeyItem] = ConfigCache()


class KeyRepo:
    """API keys' data access; the authorizer reads through a per-container cache."""

    def create(self, item: ApiKeyItem) -> ApiKeyItem | None:
        """Store a new key and its name's marker in one transaction.

        None if its token hash is taken (only a caller-chosen token can be);
        :class:`NameTaken` if its name is. Other failures (throttling) raise, and
        nothing is written.
        """
        self._claim_unmarked_name(item.name)
        marker = KeyNameMarker(name_marker_key(item.name), key_id=item.id)
        try:
            with TransactWrite(connection=shared_connection()) as write:
                write.save(marker, condition=KeyNameMarker.name.does_not_exist())
                write.save(item, condition=ApiKeyItem.token_hash.does_not_exist())
        except TransactWriteError as exc:
            # One reason per item, in order (None: that item was not why): [marker, key].
            codes = [reason.code if reason is not None else None for reason in exc.cancellation_reasons or []]
            if codes[1:2] == ["ConditionalCheckFailed"]:
                return None  # the token exists: the caller decides
            if codes[:1] == ["ConditionalCheckFailed"]:
                raise NameTaken(item.name) from None
            raise
        _cache.put(item.token_hash, item)
        return item

    def _claim_unmarked_name(self, name: str) -> None:
        """A key stored before names had markers still owns its name: give it its marker first.

        Keys are few (one partition of ``by_id``) and rarely created, so reading them all here is cheap.
        """
        wanted = name.casefold()
        for existing in ApiKeyItem.by_id.query(KIND):
            if existing.name.casefold() != wanted:
                continue
            try:
                KeyNameMarker(name_marker_key(existing.name), key_id=existing.id).save(
                    condition=KeyNameMarker.name.does_not_exist()
                )
            except PutError as exc:
                if not conditional_failed(exc):
                    raise
            return

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
