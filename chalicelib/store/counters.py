"""Integer ids from 1 per table, allocated from an atomic counter item.

A container reserves a block of ids with one ``UpdateItem ... ADD`` so that the
counter item is not written on every create. Ids stay unique; with blocks larger
than one they are not strictly in creation order across containers, and a
container that dies leaves a gap.
"""

from __future__ import annotations

import threading

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.store.base import TableMeta, register


@register
class Counter(Model):
    class Meta(TableMeta):
        logical_name = "counters"

    name = UnicodeAttribute(hash_key=True)
    value = NumberAttribute(default=0)


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
