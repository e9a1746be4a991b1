"""Merging write shards: order, filters and pagination as if the data were one partition."""

from __future__ import annotations

import random
from typing import Any

import pytest

from chalicelib.store.sharding import Entry, ShardMerge, all_shards, shard_of, sharded

Row = tuple[str, int]  # (created_at, id): the merge order


def _partitions(rows: list[Row], shards: int) -> dict[str, list[Row]]:
    parts: dict[str, list[Row]] = {sharded("sent", n): [] for n in range(shards)}
    for row in rows:
        parts[sharded("sent", shard_of(row[1], shards))].append(row)
    return parts


def _reader(parts: dict[str, list[Row]], after: Row | None, calls: list[str]) -> Any:
    """A partition read like a DynamoDB Query: newest first, Limit, LastEvaluatedKey, bounded by ``after``."""

    def fetch(partition: str, count: int, following: Any) -> tuple[list[Entry], Any]:
        calls.append(partition)
        ordered = sorted(parts[partition], reverse=True)
        if after is not None:
            ordered = [row for row in ordered if row < after]
        start = 0 if following is None else ordered.index(tuple(following)) + 1
        page = ordered[start : start + count]
        more = start + count < len(ordered)
        return [Entry(row, row[1]) for row in page], (list(page[-1]) if more and page else None)

    return fetch


def _read_all(parts: dict[str, list[Row]], limit: int, keep: Any = None) -> tuple[list[Row], int]:
    seen: list[Row] = []
    after: Row | None = None
    pages = 0
    while True:
        calls: list[str] = []
        merge = ShardMerge(sorted(parts), _reader(parts, after, calls), limit)
        rows, more = merge.take(limit, lambda entries: [entry.sort for entry in entries], keep)
        assert len(rows) <= limit
        seen += rows
        pages += 1
        if not more:
            return seen, pages
        assert merge.last is not None
        after = merge.last.sort


@pytest.mark.parametrize("shards", [1, 4, 32])
def test_thousands_of_rows_page_newest_first_exactly_once(shards: int) -> None:
    rand = random.Random(shards)
    rows = [(f"2026-01-01T00:{rand.randrange(60):02d}:{rand.randrange(60):02d}.000Z", n) for n in range(1, 3001)]
    seen, pages = _read_all(_partitions(rows, shards), limit=50)
    assert seen == sorted(rows, reverse=True)
    assert pages in (60, 61)


def test_many_rows_in_the_same_instant_are_neither_lost_nor_repeated() -> None:
    rows = [("2026-01-01T00:00:00.000Z", n) for n in range(1, 1001)]
    seen, _ = _read_all(_partitions(rows, 8), limit=7)
    assert seen == sorted(rows, reverse=True)


def test_a_filter_fills_pages_across_shards() -> None:
    rows = [(f"2026-01-01T00:00:{n % 60:02d}.{n:03d}Z", n) for n in range(1, 2001)]
    keep = lambda row: row[1] % 13 == 0  # noqa: E731
    seen, _ = _read_all(_partitions(rows, 16), limit=10, keep=keep)
    assert seen == sorted((row for row in rows if keep(row)), reverse=True)


def test_uneven_shards_and_empty_ones() -> None:
    rows = [(f"2026-01-01T00:00:00.{n:03d}Z", n * 32) for n in range(1, 500)]  # all in shard 0 of 32
    seen, _ = _read_all(_partitions(rows, 32), limit=100)
    assert seen == sorted(rows, reverse=True)


def test_only_the_first_page_of_each_shard_is_read_up_front() -> None:
    rows = [(f"2026-01-01T00:00:00.{n:03d}Z", n) for n in range(1, 801)]
    parts = _partitions(rows, 8)
    calls: list[str] = []
    merge = ShardMerge(sorted(parts), _reader(parts, None, calls), 10)
    rows_read, more = merge.take(10, lambda entries: [entry.sort for entry in entries])
    assert more and len(rows_read) == 10 and len(calls) == 8


def test_shard_names() -> None:
    assert all_shards("pending", 4) == ["pending#00", "pending#01", "pending#02", "pending#03"]
    assert shard_of(37, 32) == 5
