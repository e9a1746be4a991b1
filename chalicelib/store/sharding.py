"""Write sharding of low-cardinality keys, and reading every shard back as one list.

DynamoDB serves at most 1,000 write units a second to one partition key value and
cannot split a partition whose sort key only grows. A key that many items share (a
status, a day, a busy channel) is therefore written as ``<value>#<shard>``, the shard
taken from the item's id (the low bits of an id go round robin, so shards fill
evenly). A list reads every shard in parallel and merges the results by sort key;
the merge order is total, so a page's position is the last entry it handed out and
the next page continues exactly there, whatever the shards' sizes.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from chalicelib.settings import get_settings

MAX_PARALLEL_QUERIES = 16


def shard_count() -> int:
    return get_settings().write_shards


def shard_of(identifier: int | str, shards: int | None = None) -> int:
    count = shards or shard_count()
    if isinstance(identifier, int):
        return identifier % count
    return sum(identifier.encode()) % count


def sharded(value: object, shard: int) -> str:
    return f"{value}#{shard:02d}"


def all_shards(value: object, shards: int | None = None) -> list[str]:
    return [sharded(value, shard) for shard in range(shards or shard_count())]


@dataclass(frozen=True)
class Entry:
    """One index entry: its place in the merge order, and the item key it points to."""

    sort: tuple[Any, ...]
    key: Any


# (partition, limit, where the previous page of this partition stopped or None)
#   -> (entries in merge order, where this page stopped or None at the end)
FetchPage = Callable[[str, int, Any], tuple[list[Entry], Any]]


class ShardMerge:
    """Entries of several partitions as one ordered stream (``descending``: largest first).

    The order is total (a sort value plus the id), so the position of a merged list is
    simply the last entry it handed out: the next page asks every partition for what
    comes after it. ``fetch`` applies that bound; the merge reads each partition a page
    at a time, the first pages of all partitions in parallel.
    """

    def __init__(self, partitions: list[str], fetch: FetchPage, page: int, descending: bool = True) -> None:
        self.partitions = partitions
        self.fetch = fetch
        self.page = max(1, page)
        self.descending = descending
        self._buffers: dict[str, list[Entry]] = {}
        self._next: dict[str, Any] = {}
        self.last: Entry | None = None

    def _load(self, partitions: list[str]) -> None:
        def one(partition: str) -> tuple[str, tuple[list[Entry], Any]]:
            return partition, self.fetch(partition, self.page, self._next.get(partition))

        if len(partitions) == 1:
            results = [one(partitions[0])]
        else:
            with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_QUERIES, len(partitions))) as pool:
                results = list(pool.map(one, partitions))
        for partition, (entries, following) in results:
            self._buffers[partition] = list(entries)
            self._next[partition] = following

    def _stream(self) -> Iterator[Entry]:
        self._load(self.partitions)
        heap: list[tuple[_Ordered, int, str]] = []
        order = 0

        def push(partition: str) -> None:
            nonlocal order
            if not self._buffers[partition] and self._next[partition] is not None:
                self._load([partition])
            buffer = self._buffers[partition]
            if buffer:
                heapq.heappush(heap, (_Ordered(buffer[0].sort, self.descending), order, partition))
                order += 1

        for partition in self.partitions:
            push(partition)
        while heap:
            _, _, partition = heapq.heappop(heap)
            entry = self._buffers[partition].pop(0)
            self.last = entry
            yield entry
            push(partition)

    def take(
        self,
        limit: int,
        hydrate: Callable[[list[Entry]], list[Any]],
        keep: Callable[[Any], bool] | None = None,
    ) -> tuple[list[Any], bool]:
        """Up to ``limit`` items that ``keep`` accepts, in merge order, and whether more may follow.

        ``hydrate`` turns entries into items (a BatchGetItem; None for an item gone
        meanwhile). Entries are read in chunks of what is still missing, so the page
        hands out no entry it does not use and ``last`` is where the next page starts.
        """
        stream = self._stream()
        kept: list[Any] = []
        while len(kept) < limit:
            chunk = list(itertools.islice(stream, limit - len(kept)))
            if not chunk:
                return kept, False
            for item in hydrate(chunk):
                if item is not None and (keep is None or keep(item)):
                    kept.append(item)
        more = any(self._buffers.get(p) or self._next.get(p) is not None for p in self.partitions)
        return kept, more


class _Ordered:
    """A sort tuple compared the merge's way round (heapq pops the smallest)."""

    __slots__ = ("value", "descending")

    def __init__(self, value: tuple[Any, ...], descending: bool) -> None:
        self.value = value
        self.descending = descending

    def __lt__(self, other: _Ordered) -> bool:
        return self.value > other.value if self.descending else self.value < other.value
