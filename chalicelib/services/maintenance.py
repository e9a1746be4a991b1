"""The maintenance state, read through a short per-container cache.

The shield asks :meth:`MaintenanceGate.current` on every write request; with the
cache, a container reads the DynamoDB item at most once per
``VALHALLA_MAINTENANCE_CACHE_SECONDS``. A change made through this container takes
effect in it at once; other containers see it when their cache expires.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from chalicelib.clock import Clock
from chalicelib.domain.common import Principal
from chalicelib.domain.errors import InvalidField
from chalicelib.domain.maintenance import MaintenanceState, Mode, SetMaintenanceState, StateUnavailable


class MaintenanceStore(Protocol):
    def load(self) -> MaintenanceState: ...

    def save(self, state: MaintenanceState) -> None: ...


class MaintenanceGate:
    def __init__(
        self,
        store: MaintenanceStore,
        clock: Clock,
        cache_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
        stale_seconds: float | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.cache_seconds = cache_seconds
        self.stale_seconds = cache_seconds if stale_seconds is None else stale_seconds
        self.monotonic = monotonic
        self._cached: MaintenanceState | None = None
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def current(self) -> MaintenanceState:
        """The effective state (``ends_at`` applied). Raises :class:`StateUnavailable`."""
        return self._raw().effective(self.clock())

    def _raw(self) -> MaintenanceState:
        with self._lock:
            now = self.monotonic()
            age = now - self._fetched_at
            if self._cached is not None and age < self.cache_seconds:
                return self._cached
            try:
                state = self.store.load()
            except Exception as exc:
                # A stale state is better than refusing every write while DynamoDB hiccups,
                # but only for a while: an outage must not pin an old mode forever.
                if self._cached is not None and self.cache_seconds > 0 and age < self.stale_seconds:
                    return self._cached
                raise StateUnavailable(str(exc)) from exc
            self._remember(state, now)
            return state

    def _remember(self, state: MaintenanceState, now: float | None = None) -> None:
        if self.cache_seconds > 0:
            self._cached, self._fetched_at = state, self.monotonic() if now is None else now

    def set(self, change: SetMaintenanceState, principal: Principal) -> MaintenanceState:
        if change.ends_at is not None and change.ends_at <= self.clock():
            # Accepting it would leave the mode normal at once, silently.
            raise InvalidField("ends_at", "Must be in the future.")
        state = MaintenanceState(
            mode=change.mode,
            reason=change.reason,
            updated_at=self.clock(),
            updated_by=principal.name,
            ends_at=change.ends_at if change.mode is not Mode.normal else None,
        )
        self.store.save(state)
        with self._lock:
            self._remember(state)
        return state.effective(self.clock())

    def stored(self) -> MaintenanceState | None:
        """The state in effect now, read from the table (not the cache); ``None`` if it cannot be read."""
        try:
            return self.store.load().effective(self.clock())
        except Exception:
            return None

    def forget(self) -> None:
        with self._lock:
            self._cached = None
