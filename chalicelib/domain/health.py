"""Channel health: the circuit breaker and auto-disable rules, as pure functions.

Nothing here does I/O. :class:`Health` is a channel's breaker state; every change is a
function from the old state (and what was observed) to the new one, so the service
can apply it with one conditional write and tests can check it without AWS.

States: ``healthy`` (closed: deliveries go through), ``open`` (deliveries wait until
``next_probe_at``), ``half_open`` (one probe is in flight until ``probe_until``) and
``disabled`` (the channel was switched off; only the enable endpoint brings it back).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum

from chalicelib.domain.common import Timestamp
from chalicelib.domain.schema import Schema


class HealthState(str, Enum):
    healthy = "healthy"
    open = "open"
    half_open = "half_open"
    disabled = "disabled"


@dataclass(frozen=True)
class BreakerPolicy:
    failure_rate: float = 0.7
    min_attempts: int = 10
    window_seconds: int = 300
    cooldown_seconds: int = 30
    max_cooldown_seconds: int = 600
    disable_after_seconds: int = 432000
    disable_after_trips: int = 10
    max_pause_seconds: int = 36000  # a receiver's Retry-After is capped by the largest retry step


@dataclass(frozen=True)
class Window:
    """Attempts and failures of the current generation inside the breaker's window."""

    attempts: int = 0
    failures: int = 0

    @property
    def failure_rate(self) -> float:
        return self.failures / self.attempts if self.attempts else 0.0


@dataclass(frozen=True)
class Health:
    state: HealthState = HealthState.healthy
    generation: int = 0  # bumped when the breaker closes or the channel is enabled: the window starts afresh
    consecutive_failures: int = 0
    failing_since: datetime | None = None
    opened_at: datetime | None = None
    next_probe_at: datetime | None = None
    cooldown_seconds: int | None = None
    trips: int = 0  # opens since the channel was last healthy
    probe_until: datetime | None = None
    paused_until: datetime | None = None  # a receiver's Retry-After
    disabled_at: datetime | None = None
    disabled_reason: str | None = None
    troubled: bool = False  # the next success emits channel.recovered
    version: int = 0  # optimistic concurrency of the stored item


@dataclass(frozen=True)
class Admission:
    """What to do with one delivery: ``send``, ``probe`` (send as the half-open probe),
    ``defer`` (until ``until``: not attempted, not counted) or ``disabled``."""

    kind: str
    until: datetime | None = None
    reason: str = ""


def admission(health: Health, now: datetime) -> Admission:
    if health.state is HealthState.disabled:
        return Admission("disabled", reason=health.disabled_reason or "disabled")
    if health.paused_until is not None and health.paused_until > now:
        return Admission("defer", health.paused_until, "the receiver asked to wait (Retry-After)")
    if health.state is HealthState.open:
        if health.next_probe_at is not None and health.next_probe_at > now:
            return Admission("defer", health.next_probe_at, "circuit breaker open")
        return Admission("probe")
    if health.state is HealthState.half_open:
        if health.probe_until is not None and health.probe_until > now:
            # Not the whole probe lease: a probe usually answers fast, and then the channel is closed.
            until = min(health.probe_until, now + timedelta(seconds=health.cooldown_seconds or 1))
            return Admission("defer", until, "circuit breaker half-open: a probe is in flight")
        return Admission("probe")  # the probe's worker died: another one may probe
    return Admission("send")


def start_probe(health: Health, now: datetime, lease_seconds: float) -> Health:
    return replace(health, state=HealthState.half_open, probe_until=now + timedelta(seconds=lease_seconds))


def should_trip(health: Health, window: Window, policy: BreakerPolicy) -> bool:
    return (
        health.state is HealthState.healthy
        and window.attempts >= policy.min_attempts
        and window.failure_rate >= policy.failure_rate
    )


def trip(health: Health, now: datetime, policy: BreakerPolicy) -> Health:
    """Open the breaker: the first trip waits the base cool-down, each further one twice the last (capped)."""
    if health.cooldown_seconds is None or health.trips == 0:
        cooldown = policy.cooldown_seconds
    else:
        cooldown = min(policy.max_cooldown_seconds, health.cooldown_seconds * 2)
    cooldown = min(cooldown, policy.max_cooldown_seconds)
    opened = replace(
        health,
        state=HealthState.open,
        opened_at=now,
        next_probe_at=now + timedelta(seconds=cooldown),
        cooldown_seconds=cooldown,
        trips=health.trips + 1,
        probe_until=None,
        troubled=True,
    )
    return disable_if_due(opened, now, policy)


def record_failures(health: Health, count: int, now: datetime, policy: BreakerPolicy) -> Health:
    """``count`` failed attempts in a row (the most recent outcomes)."""
    failing = replace(
        health,
        consecutive_failures=health.consecutive_failures + count,
        failing_since=health.failing_since or now,
    )
    return disable_if_due(failing, now, policy)


def record_success(health: Health, trailing_failures: int, now: datetime) -> Health:
    """A success (then ``trailing_failures`` failures after it): the channel is healthy again."""
    recovered = health.state is not HealthState.healthy
    return replace(
        health,
        state=HealthState.healthy,
        generation=health.generation + (1 if recovered else 0),
        consecutive_failures=trailing_failures,
        failing_since=now if trailing_failures else None,
        opened_at=None,
        next_probe_at=None,
        cooldown_seconds=None,
        trips=0,
        probe_until=None,
        disabled_at=None,
        disabled_reason=None,
        troubled=False,
    )


def probe_failed(health: Health, now: datetime, policy: BreakerPolicy) -> Health:
    """The half-open probe failed: open again with a doubled cool-down (capped)."""
    failing = record_failures(health, 1, now, policy)
    if failing.state is HealthState.disabled:
        return failing
    return trip(replace(failing, state=HealthState.healthy), now, policy)


def disable_if_due(health: Health, now: datetime, policy: BreakerPolicy) -> Health:
    if health.state is HealthState.disabled:
        return health
    reason = None
    if health.trips >= policy.disable_after_trips:
        reason = f"circuit breaker tripped {health.trips} times without recovering"
    elif health.failing_since is not None and (now - health.failing_since).total_seconds() >= (
        policy.disable_after_seconds
    ):
        reason = f"failing without a success since {health.failing_since.isoformat().replace('+00:00', 'Z')}"
    if reason is None:
        return health
    return replace(
        health,
        state=HealthState.disabled,
        disabled_at=now,
        disabled_reason=reason,
        next_probe_at=None,
        probe_until=None,
        troubled=True,
    )


def pause(health: Health, now: datetime, retry_after: float, policy: BreakerPolicy) -> Health:
    """A receiver's ``Retry-After`` (429/503): the whole channel waits, at most the largest retry step."""
    until = now + timedelta(seconds=min(max(0.0, retry_after), policy.max_pause_seconds))
    if health.paused_until is not None and health.paused_until >= until:
        return health
    return replace(health, paused_until=until)


def enabled(health: Health) -> Health:
    """The enable endpoint: healthy with a fresh window; the first success still reports recovery."""
    return Health(
        generation=health.generation + 1,
        troubled=health.troubled or health.state is not HealthState.healthy,
        version=health.version,
    )


class HealthView(Schema):
    state: HealthState
    failure_rate: float
    attempts_in_window: int
    consecutive_failures: int
    failing_since: Timestamp | None = None
    opened_at: Timestamp | None = None
    next_probe_at: Timestamp | None = None
    disabled_at: Timestamp | None = None
    disabled_reason: str | None = None


def health_view(health: Health, window: Window) -> HealthView:
    return HealthView(
        state=health.state,
        failure_rate=round(window.failure_rate, 4),
        attempts_in_window=window.attempts,
        consecutive_failures=health.consecutive_failures,
        failing_since=health.failing_since,
        opened_at=health.opened_at,
        next_probe_at=health.next_probe_at,
        disabled_at=health.disabled_at,
        disabled_reason=health.disabled_reason,
    )
