"""API keys, stored only as SHA-256 hashes of their tokens."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.store.base import TableMeta, register

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
