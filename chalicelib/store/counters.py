"""Integer ids: counter blocks for the rarely created records, time-ordered ids for notifications.

Channels, keys, exports, policies and purge runs are created a few times a minute at
most: they take ids from 1 (the seed's examples) from an atomic counter item, a block
at a time (``UpdateItem ... ADD``), so the counter is not written on every create.

Notifications are created up to 10,000 a second, far above what one counter item
takes. Their ids are 53 bits, so JavaScript reads them exactly (at most 2^53 - 1)::

    milliseconds since 2024-01-01 (41 bits, until 2093) | container slot (7) | sequence (5)

A container takes its slot once, with one ``ADD`` on the ``id-slots`` counter item
(cold starts are far below that item's per-key limit); 128 containers in a row get
distinct slots. The sequence counts on across milliseconds, so the low five bits of a
container's ids go round robin and the write shard ``id % shards`` spreads evenly. A
container whose sequence goes round inside one millisecond borrows the next one, so
the ids of one container are unique and strictly increasing, and all ids sort by
creation time (to the millisecond).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.store.base import StoredModel, TableMeta, register

EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
SLOT_BITS = 7
SEQUENCE_BITS = 5
MAX_ID = 2**53 - 1
SLOTS_KEY = "id-slots"


@register
class Counter(StoredModel):
    class Meta(TableMeta):
        logical_name = "counters"

    name = UnicodeAttribute(hash_key=True)
    value = NumberAttribute(default=0)


def compose(millis: int, slot: int, sequence: int) -> int:
    return (millis << (SLOT_BITS + SEQUENCE_BITS)) | (slot << SEQUENCE_BITS) | sequence


def created_millis(identifier: int) -> int:
    """The Unix time in milliseconds at which an id was allocated."""
    return (identifier >> (SLOT_BITS + SEQUENCE_BITS)) + EPOCH_MS


def _take_slot() -> int:
    counter = Counter(SLOTS_KEY)
    counter.update(actions=[Counter.value.add(1)])
    return int(counter.value) % (1 << SLOT_BITS)


class TimeOrderedIds:
    def __init__(
        self,
        now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        slot: Callable[[], int] = _take_slot,
    ) -> None:
        self._now_ms = now_ms
        self._slot_source = slot
        self._slot: int | None = None
        self._millis = 0
        self._sequence = 0
        self._lock = threading.Lock()

    def next_id(self) -> int:
        with self._lock:
            if self._slot is None:
                self._slot = self._slot_source()
            millis = max(self._now_ms() - EPOCH_MS, self._millis)
            sequence = (self._sequence + 1) % (1 << SEQUENCE_BITS)
            if millis == self._millis and sequence == 0:
                millis += 1  # the sequence went round inside one millisecond: borrow the next one
            self._millis, self._sequence = millis, sequence
            identifier = compose(millis, self._slot, sequence)
            if identifier > MAX_ID:
                raise OverflowError("the id space ends in 2093")
            return identifier


class IdAllocator:
    def __init__(self, block_size: int) -> None:
        self.block_size = block_size
        self._blocks: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def next_id(self, counter_name: str) -> int:
        with self._lock:
            next_value, last = self._blocks.get(counter_name, (1, 0))
            if next_value > last:
                last = self._reserve(counter_name)
                next_value = last - self.block_size + 1
            self._blocks[counter_name] = (next_value + 1, last)
            return next_value

    def _reserve(self, counter_name: str) -> int:
        counter = Counter(counter_name)
        counter.update(actions=[Counter.value.add(self.block_size)])
        return int(counter.value)
