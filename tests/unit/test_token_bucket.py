"""Token bucket and key-window arithmetic, without I/O (chalicelib.domain.ratelimit)."""

from __future__ import annotations

import pytest

from chalicelib.domain.ratelimit import Bucket, KeyWindow, available, lease, lease_size, minute_window


def test_a_new_bucket_starts_full_and_never_holds_more_than_the_rate() -> None:
    assert available(None, 5, 1000.0) == 5.0
    assert available(Bucket(0.0, 1000.0), 5, 1000.4) == pytest.approx(2.0)
    assert available(Bucket(0.0, 1000.0), 5, 2000.0) == 5.0
    assert available(Bucket(3.0, 1000.0), 5, 999.0) == 3.0  # a clock behind the stamp adds nothing


@pytest.mark.parametrize(("rate", "block"), [(1, 1), (5, 1), (19, 1), (20, 2), (100, 10), (10_000, 1000)])
def test_tokens_are_leased_in_blocks_of_a_tenth_of_the_rate(rate: int, block: int) -> None:
    assert lease_size(rate) == block


def test_a_lease_takes_a_block_and_says_how_long_to_wait_when_empty() -> None:
    first = lease(None, 100, 50.0)
    assert first.granted == 10 and first.bucket == Bucket(90.0, 50.0)
    empty = lease(Bucket(0.5, 50.0), 5, 50.0)
    assert empty.granted == 0 and empty.wait_seconds == pytest.approx(0.1)


def test_leasing_one_at_a_time_never_exceeds_burst_plus_rate_in_any_second() -> None:
    bucket: Bucket | None = None
    sent: list[float] = []
    now = 0.0
    while now < 10.0:
        taken = lease(bucket, 5, now)
        if taken.granted:
            sent.extend([now] * taken.granted)
        bucket = taken.bucket
        now = round(now + 0.01, 2)
    assert len(sent) == pytest.approx(5 + 5 * 10, abs=1)
    for start in sent:
        assert sum(1 for moment in sent if start <= moment < start + 1.0) <= 10


def test_the_key_window_counts_to_the_limit_then_refuses() -> None:
    start, end = minute_window(125.5)
    assert (start, end) == (120, 180)
    assert KeyWindow(10, 10, end).allowed and KeyWindow(10, 10, end).remaining == 0
    over = KeyWindow(10, 11, end)
    assert not over.allowed and over.retry_after(125.5) == 55
    assert KeyWindow(10, 11, end).retry_after(179.9) == 1
