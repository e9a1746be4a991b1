"""Channel health: the circuit breaker, auto-disable and a receiver's Retry-After, applied.

Outcomes are tallied per channel in the container (:meth:`ChannelHealth.flush`): a
tally with a failure is written after its batch; one of successes only may wait up to
``VALHALLA_TALLY_FLUSH_SECONDS`` (or until a batch was not full). A flush writes the
window counters of all the tallies it takes in one :meth:`HealthRepo.add_outcomes`
call: one ``UpdateItem`` per channel group touched (8 groups, see
:mod:`chalicelib.store.health`), not one per channel, so a container delivering to
100 channels costs 8 counter writes a flush, not 100. The counters are written before
the state rules run, so a trip decision reads a window that holds this flush's failures;
a failed counter write is logged and the state rules still run (health is advisory).
A state write happens only when the state changes. The rules are the pure functions of
:mod:`chalicelib.domain.health`; each change is one conditional write on the version
read, retried on a conflict. The breaker state is read through a one-second cache, so
an open breaker costs a worker one read a second, not one per delivery.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.clock import Clock, isoformat
from chalicelib.domain.errors import NotFound
from chalicelib.domain.health import (
    Admission,
    BreakerPolicy,
    Health,
    HealthState,
    HealthView,
    Window,
    admission,
    enabled,
    health_view,
    pause,
    probe_failed,
    record_failures,
    record_success,
    should_trip,
    start_probe,
    trip,
)
from chalicelib.logs import get_logger
from chalicelib.settings import Settings
from chalicelib.store.channels import ChannelRepo
from chalicelib.store.health import SHARDS, HealthRepo, Outcomes

CACHE_SECONDS = 1.0
SLOTS_PER_WINDOW = 30
SAVE_TRIES = 5

# (event type, data, idempotency key): where channel.disabled / channel.recovered go.
EventSink = Callable[[str, dict[str, Any], str], None]


def policy_from(settings: Settings) -> BreakerPolicy:
    return BreakerPolicy(
        failure_rate=settings.breaker_failure_rate,
        min_attempts=settings.breaker_min_attempts,
        window_seconds=settings.breaker_window_seconds,
        cooldown_seconds=settings.breaker_cooldown_seconds,
        max_cooldown_seconds=settings.breaker_max_cooldown_seconds,
        disable_after_seconds=settings.auto_disable_after_seconds,
        disable_after_trips=settings.auto_disable_after_trips,
        max_pause_seconds=max(settings.retry_schedule or (0,)),
    )


def _not_recorded(exc: Exception, **where: Any) -> None:
    get_logger().warning("channel health not recorded", extra={**where, "error": f"{type(exc).__name__}: {exc}"})


def _untroubled(health: Health) -> bool:
    return health.state is HealthState.healthy and not (
        health.consecutive_failures or health.failing_since or health.troubled
    )


@dataclass
class _Tally:
    attempts: int = 0
    failures: int = 0
    successes: int = 0
    trailing_failures: int = 0  # failures since the last success in this tally
    since: float = 0.0  # monotonic time of its first outcome


class ChannelHealth:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        events: EventSink,
        repo: HealthRepo | None = None,
        channels: ChannelRepo | None = None,
        rand: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self.settings = settings
        self.cache_seconds = cache_seconds
        self.policy = policy_from(settings)
        self.clock = clock
        self.events = events
        self.repo = repo or HealthRepo()
        self.channels = channels or ChannelRepo()
        self.rand = rand or random.Random()
        self.monotonic = monotonic
        self.probe_lease_seconds = settings.attempt_ceiling_seconds
        self.hold_seconds = settings.tally_flush_seconds
        self._cache: dict[int, tuple[float, Health]] = {}
        self._tallies: dict[int, _Tally] = {}
        self._lock = threading.Lock()

    # --- reading ---------------------------------------------------------

    def state(self, channel_id: int) -> Health:
        with self._lock:
            cached = self._cache.get(channel_id)
        if cached is not None and self.monotonic() - cached[0] < self.cache_seconds:
            return cached[1]
        return self._remember(channel_id, self.repo.load(channel_id))

    def _remember(self, channel_id: int, health: Health) -> Health:
        with self._lock:
            self._cache[channel_id] = (self.monotonic(), health)
        return health

    def _slot(self, moment: datetime) -> int:
        length = max(1, self.policy.window_seconds // SLOTS_PER_WINDOW)
        return int(moment.timestamp() // length) * length

    def window(self, channel_id: int, health: Health, now: datetime) -> Window:
        start = self._slot(now - timedelta(seconds=self.policy.window_seconds))
        return self.repo.window(channel_id, health.generation, start)

    def view(self, channel_id: int) -> HealthView:
        health = self.repo.load(channel_id)
        return health_view(health, self.window(channel_id, health, self.clock()))

    # --- the gate --------------------------------------------------------

    def admit(self, channel_id: int) -> Admission:
        """May a delivery to this channel go now? A ``probe`` admission has claimed the probe."""
        now = self.clock()
        decision = admission(self.state(channel_id), now)
        if decision.kind != "probe":
            return decision
        claimed: list[bool] = []

        def claim(health: Health) -> Health | None:
            claimed[:] = [admission(health, now).kind == "probe"]
            return start_probe(health, now, self.probe_lease_seconds) if claimed[0] else None

        result = self._change(channel_id, claim)
        if result is not None and claimed == [True]:
            return Admission("probe")
        retry = admission(self.state(channel_id), now)
        return retry if retry.kind == "defer" else Admission("defer", now + timedelta(seconds=1), "probe taken")

    # --- outcomes --------------------------------------------------------

    def observe(self, channel_id: int, success: bool, retry_after: float | None = None, probe: bool = False) -> None:
        """One attempt's outcome. A probe's result and a Retry-After apply at once; the rest at flush."""
        now = self.clock()
        if probe:
            self._add_counts(channel_id, 1, 0 if success else 1, now)
            if success:
                self._change(channel_id, lambda health: record_success(health, 0, now))
            else:
                self._change(channel_id, lambda health: probe_failed(health, now, self.policy))
        else:
            with self._lock:
                tally = self._tallies.get(channel_id)
                if tally is None:
                    tally = self._tallies[channel_id] = _Tally(since=self.monotonic())
                tally.attempts += 1
                if success:
                    tally.successes += 1
                    tally.trailing_failures = 0
                else:
                    tally.failures += 1
                    tally.trailing_failures += 1
        if retry_after is not None:
            self._change(channel_id, lambda health: pause(health, now, retry_after, self.policy))

    def flush(self, draining: bool = True) -> None:
        """Write what this container saw (the worker calls it after each batch).

        A tally of successes only is held while the oldest held is younger than
        ``hold_seconds``, unless ``draining`` (the batch was not full): successes only
        dilute a failure rate, so a few seconds' delay changes no decision, while a
        failure is written at once. Once the oldest is due, every tally goes: one write
        per group for all of them, where tallies falling due one by one would write a
        few groups after nearly every batch.
        """
        now = self.monotonic()
        with self._lock:
            oldest = min((tally.since for tally in self._tallies.values()), default=now)
            everything = draining or now - oldest >= self.hold_seconds
            tallies = {channel_id: tally for channel_id, tally in self._tallies.items() if everything or tally.failures}
            for channel_id in tallies:
                del self._tallies[channel_id]
        if not tallies:
            return
        counts: Outcomes = {}
        for channel_id, tally in list(tallies.items()):
            try:
                counts[channel_id] = (self.state(channel_id).generation, tally.attempts, tally.failures)
            except Exception as exc:  # health is advisory: a failed read must not fail the batch
                _not_recorded(exc, channel_id=channel_id)
                del tallies[channel_id]
        try:
            self._write_counts(counts, self.clock())
        except Exception as exc:  # the state rules still run: they decide on what the window holds
            _not_recorded(exc, channels=len(counts))
        for channel_id, tally in tallies.items():
            try:
                self._flush_one(channel_id, tally)
            except Exception as exc:
                _not_recorded(exc, channel_id=channel_id)

    def _flush_one(self, channel_id: int, tally: _Tally) -> None:
        """The state rules for one tally (its counters are written already, by :meth:`flush`)."""
        now = self.clock()

        def change(health: Health) -> Health | None:
            if tally.successes:
                if _untroubled(health) and not tally.trailing_failures:
                    return None  # the usual case: nothing to write
                return record_success(health, tally.trailing_failures, now)
            failing = record_failures(health, tally.trailing_failures, now, self.policy)
            if failing.state is HealthState.healthy and should_trip(
                failing, self.window(channel_id, failing, now), self.policy
            ):
                return trip(failing, now, self.policy)
            return failing

        if tally.successes and not tally.trailing_failures and _untroubled(self.state(channel_id)):
            return  # a healthy channel that stays healthy: no read, no write (the usual case)
        self._change(channel_id, change)

    def _add_counts(self, channel_id: int, attempts: int, failures: int, now: datetime) -> None:
        """One channel's counters (a probe's outcome): a one-channel write."""
        self._write_counts({channel_id: (self.state(channel_id).generation, attempts, failures)}, now)

    def _write_counts(self, counts: Outcomes, now: datetime) -> None:
        """Add ``(generation, attempts, failures)`` per channel to the current slot, on one random shard."""
        if not counts:
            return
        expires = int(now.timestamp()) + 2 * self.policy.window_seconds
        self.repo.add_outcomes(self._slot(now), self.rand.randrange(SHARDS), expires, counts)

    # --- admin -----------------------------------------------------------

    def enable(self, channel_id: int) -> HealthView:
        """Switch the channel back on and reset its health (a fresh window)."""
        if self.channels.set_active(channel_id, True, None, isoformat(self.clock())) is None:
            raise NotFound(f"Channel {channel_id} not found.")
        self._change(channel_id, enabled)
        return self.view(channel_id)

    # --- applying a change -------------------------------------------------

    def _change(self, channel_id: int, rule: Callable[[Health], Health | None]) -> Health | None:
        """Apply ``rule`` to the stored state with a conditional write; re-read and retry on a conflict."""
        for _ in range(SAVE_TRIES):
            before = self.repo.load(channel_id)
            after = rule(before)
            if after is None or after == before:
                self._remember(channel_id, before)
                return before
            saved = self.repo.save(channel_id, after)
            if saved is not None:
                self._remember(channel_id, saved)
                self._announce(channel_id, before, saved)
                return saved
        get_logger().warning("channel health: too many concurrent changes", extra={"channel_id": channel_id})
        return None

    def _summary(self, channel_id: int) -> dict[str, Any]:
        item = self.channels.cached(channel_id)
        if item is None:
            return {"channel_id": channel_id}
        return {"channel_id": channel_id, "channel_name": item.name, "channel_type": item.channel_type}

    def _announce(self, channel_id: int, before: Health, after: Health) -> None:
        logger = get_logger()
        if before.state is not after.state:
            logger.info(
                "channel health changed",
                extra={"channel_id": channel_id, "from": before.state.value, "to": after.state.value},
            )
        if after.state is HealthState.disabled and before.state is not HealthState.disabled:
            now = after.disabled_at or self.clock()
            self.channels.set_active(channel_id, False, after.disabled_reason, isoformat(now))
            data = {**self._summary(channel_id), "reason": after.disabled_reason or "disabled"}
            self.events("channel.disabled", data, f"channel:{channel_id}:disabled:{isoformat(now)}")
        if before.troubled and not after.troubled:
            key = f"channel:{channel_id}:recovered:{after.version}"
            self.events("channel.recovered", self._summary(channel_id), key)
