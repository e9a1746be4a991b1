"""What happens after a delivery attempt: a pure decision, no I/O."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from chalicelib.domain.notifications import Outcome, retry_delay


class DeliveryOutcome(StrEnum):
    """What handling one outbox message came to (an attempt's own outcome is ``Outcome``)."""

    sent = "sent"  # an attempt was made ...
    retry = "retry"
    failed = "failed"
    busy = "busy"  # another worker holds the lease: the message comes back after ``delay``
    skip = "skip"  # nothing to do: done already, not due yet, unknown
    deferred = "deferred"  # the channel's breaker or rate limit: not attempted, back after ``delay``


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    delay: int | None = None  # seconds until the next attempt; only for ``retry``


def decide(
    delivered: bool,
    permanent: bool,
    cycle_attempts: int,
    schedule: tuple[int, ...],
    retry_after: float | None = None,
    rand: random.Random | None = None,
) -> Decision:
    """``sent`` when delivered; ``failed`` when permanent or the schedule is used up; else ``retry``.

    ``cycle_attempts`` counts this attempt, since the retry schedule last (re)started.
    """
    if delivered:
        return Decision(Outcome.sent)
    if permanent:
        return Decision(Outcome.failed)
    delay = retry_delay(cycle_attempts, schedule, retry_after, rand)
    return Decision(Outcome.failed) if delay is None else Decision(Outcome.retry, delay)
