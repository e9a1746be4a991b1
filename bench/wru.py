"""DynamoDB write request units (WRU) of one write, by AWS's sizing rules. Pure: no I/O.

- An item's size is the sum of its attribute names and values (UTF-8 bytes; a number
  is 1 byte per two significant digits plus 1; a boolean or null 1 byte; a list or map
  3 bytes plus 1 byte per element plus the elements; a set the sum of its elements).
- A write costs 1 WRU per started KB (1,024 bytes), at least 1.
- A put or an update costs by the larger of the item before and after; a delete by the
  item deleted; a write whose condition failed by the item as it is (at least 1), and
  writes no index.
- Each global secondary index the write touches costs its projected entry's size: an
  entry that appears is a put, one that disappears a delete, one whose index key changed
  a delete plus a put, one whose projected attributes changed an update (the larger of
  before and after); an entry that did not change costs nothing.
- In ``TransactWriteItems`` the table write costs twice (prepare and commit); the index
  writes that follow it are ordinary writes.

Items are in DynamoDB's wire form (``{"name": {"S": "value"}}``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

Item = dict[str, dict[str, Any]]
KB = 1024


def _number_size(text: str) -> int:
    digits = text.lstrip("+-").lower().split("e")[0].replace(".", "")
    significant = digits.strip("0") or "0"
    return (len(significant) + 1) // 2 + 1


def value_size(value: dict[str, Any]) -> int:
    """Bytes of one attribute value in wire form (without its name)."""
    (kind, data), *_ = value.items()
    if kind == "S":
        return len(str(data).encode())
    if kind == "N":
        return _number_size(str(data))
    if kind == "B":
        return len(data) if isinstance(data, bytes | bytearray) else len(_b64decode(str(data)))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(element.encode()) for element in data)
    if kind == "NS":
        return sum(_number_size(element) for element in data)
    if kind == "BS":
        return sum(value_size({"B": element}) for element in data)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in data)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + value_size(element) for name, element in data.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def _b64decode(text: str) -> bytes:
    import base64

    return base64.b64decode(text)


def item_size(item: Item | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def units(size: int) -> int:
    """WRU of writing ``size`` bytes: 1 per started KB, at least 1."""
    return max(1, math.ceil(size / KB))


@dataclass(frozen=True)
class Index:
    name: str
    hash_key: str
    range_key: str | None = None
    projection: str = "ALL"  # ALL | KEYS_ONLY | INCLUDE
    non_key: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    name: str
    hash_key: str
    range_key: str | None = None
    indexes: tuple[Index, ...] = field(default_factory=tuple)

    def key_of(self, item: Item) -> Item:
        names = [self.hash_key, *([self.range_key] if self.range_key else [])]
        return {name: item[name] for name in names}

    @classmethod
    def from_description(cls, description: dict[str, Any]) -> Table:
        """From ``DescribeTable``'s ``Table``: keys, and each GSI's keys and projection."""

        def keys(schema: list[dict[str, str]]) -> tuple[str, str | None]:
            hash_key = next(k["AttributeName"] for k in schema if k["KeyType"] == "HASH")
            range_key = next((k["AttributeName"] for k in schema if k["KeyType"] == "RANGE"), None)
            return hash_key, range_key

        indexes = []
        for index in description.get("GlobalSecondaryIndexes") or []:
            hash_key, range_key = keys(index["KeySchema"])
            projection = index.get("Projection") or {}
            indexes.append(
                Index(
                    index["IndexName"],
                    hash_key,
                    range_key,
                    projection.get("ProjectionType", "ALL"),
                    tuple(projection.get("NonKeyAttributes") or ()),
                )
            )
        hash_key, range_key = keys(description["KeySchema"])
        return cls(description["TableName"], hash_key, range_key, tuple(indexes))


@dataclass(frozen=True)
class Charge:
    """WRU one write puts on one partition key value of a table (``index`` None) or an index."""

    table: str
    index: str | None
    key: str
    wru: int
    action: str  # put | update | delete | failed


def key_text(value: dict[str, Any] | None) -> str:
    if value is None:
        return ""
    (_, data), *_ = value.items()
    return str(data)


def projected(table: Table, index: Index, item: Item | None) -> Item | None:
    """The index entry of ``item``, or None when the item lacks the index's key (sparse)."""
    if not item or index.hash_key not in item or (index.range_key and index.range_key not in item):
        return None
    if index.projection == "ALL":
        return dict(item)
    names = {table.hash_key, index.hash_key, *(name for name in (table.range_key, index.range_key) if name)}
    if index.projection == "INCLUDE":
        names.update(index.non_key)
    return {name: value for name, value in item.items() if name in names}


def _index_charges(table: Table, index: Index, before: Item | None, after: Item | None) -> list[Charge]:
    old, new = projected(table, index, before), projected(table, index, after)
    if old is None and new is None or old == new:
        return []
    assert old is not None or new is not None
    charges = []
    moved = (
        old is not None
        and new is not None
        and (
            old[index.hash_key] != new[index.hash_key]
            or (index.range_key is not None and old[index.range_key] != new[index.range_key])
        )
    )
    if old is not None and (new is None or moved):
        charges.append(Charge(table.name, index.name, key_text(old[index.hash_key]), units(item_size(old)), "delete"))
    if new is not None and (old is None or moved):
        charges.append(Charge(table.name, index.name, key_text(new[index.hash_key]), units(item_size(new)), "put"))
    if old is not None and new is not None and not moved:
        size = max(item_size(old), item_size(new))
        charges.append(Charge(table.name, index.name, key_text(new[index.hash_key]), units(size), "update"))
    return charges


def write_charges(
    table: Table,
    before: Item | None,
    after: Item | None,
    *,
    key: Item | None = None,
    applied: bool = True,
    transactional: bool = False,
) -> list[Charge]:
    """Every charge of one item write: the table's, then each index's.

    ``before``/``after`` are the whole item before and after the write (None when absent);
    ``key`` names the item when both are None (a delete of an item that did not exist).
    """
    known = after or before or key
    if known is None:
        raise ValueError("a write needs the item before, after, or its key")
    partition = key_text(known.get(table.hash_key))
    factor = 2 if transactional else 1
    if not applied:
        return [Charge(table.name, None, partition, factor * units(item_size(before)), "failed")]
    action = "delete" if after is None else ("put" if before is None else "update")
    charges = [Charge(table.name, None, partition, factor * units(max(item_size(before), item_size(after))), action)]
    for index in table.indexes:
        charges.extend(_index_charges(table, index, before, after))
    return charges
