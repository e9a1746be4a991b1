"""Notification ids: integers JavaScript reads exactly, sorted by creation time, spread evenly over shards."""

from __future__ import annotations

from collections import Counter

from chalicelib.store.counters import EPOCH_MS, MAX_ID, TimeOrderedIds, created_millis


def _allocator(times: list[int], slot: int = 5) -> TimeOrderedIds:
    clock = iter(times)
    return TimeOrderedIds(now_ms=lambda: next(clock), slot=lambda: slot)


def test_ids_follow_creation_time_and_stay_below_2_to_the_53() -> None:
    start = EPOCH_MS + 86_400_000
    allocator = _allocator([start, start, start + 1, start + 1000])
    ids = [allocator.next_id() for _ in range(4)]
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert created_millis(ids[0]) == start and created_millis(ids[3]) == start + 1000
    late = _allocator([EPOCH_MS + (1 << 41) - 2], slot=127)
    assert late.next_id() <= MAX_ID


def test_a_busy_millisecond_borrows_the_next_and_ids_stay_increasing() -> None:
    start = EPOCH_MS + 5
    allocator = _allocator([start] * 100)
    ids = [allocator.next_id() for _ in range(100)]
    assert ids == sorted(ids) and len(set(ids)) == 100
    assert created_millis(ids[-1]) - start <= 4  # 100 ids, 32 per millisecond


def test_two_containers_never_collide_in_the_same_millisecond() -> None:
    start = EPOCH_MS + 10
    one, two = _allocator([start] * 50, slot=1), _allocator([start] * 50, slot=2)
    ids = [one.next_id() for _ in range(50)] + [two.next_id() for _ in range(50)]
    assert len(set(ids)) == 100


def test_the_low_bits_go_round_robin_so_write_shards_are_even() -> None:
    times = [EPOCH_MS + 1000 + step * 7 for step in range(3200)]
    allocator = _allocator(times)
    shards = Counter(allocator.next_id() % 32 for _ in range(3200))
    assert set(shards.values()) == {100}
