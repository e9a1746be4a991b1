"""The retry decision after a delivery attempt: a pure function."""

from __future__ import annotations

import random

from chalicelib.domain.delivery import decide
from chalicelib.domain.notifications import Outcome

SCHEDULE = (5, 300, 1800)


def test_delivered_is_sent_whatever_else() -> None:
    assert decide(True, False, 3, SCHEDULE).outcome is Outcome.sent


def test_a_permanent_failure_fails_at_once() -> None:
    decision = decide(False, True, 1, SCHEDULE)
    assert decision.outcome is Outcome.failed and decision.delay is None


def test_transient_failures_follow_the_schedule_with_jitter_then_fail() -> None:
    rand = random.Random(7)
    delays = [decide(False, False, attempt, SCHEDULE, rand=rand).delay for attempt in (1, 2, 3)]
    assert all(delay is not None for delay in delays)
    assert 4 <= delays[0] <= 6 and 240 <= delays[1] <= 360 and 1440 <= delays[2] <= 2160  # type: ignore[operator]
    assert decide(False, False, 4, SCHEDULE, rand=rand).outcome is Outcome.failed


def test_a_receivers_retry_after_is_a_floor() -> None:
    decision = decide(False, False, 1, SCHEDULE, retry_after=120, rand=random.Random(1))
    assert decision.outcome is Outcome.retry and decision.delay == 120
