"""The services of one container, built lazily from settings and shared by every request.

Handlers and workers ask :func:`get_deps`; tests build their own or call
:func:`reset_deps` after changing settings. Each capability adds its service here as
a ``cached_property`` so that nothing is constructed before it is first needed.
"""

from __future__ import annotations

from functools import cached_property, lru_cache

from chalicelib.clock import Clock, utcnow
from chalicelib.services.audit import AuditLog
from chalicelib.services.idempotency import Idempotency
from chalicelib.services.keys import ApiKeys
from chalicelib.services.maintenance import DynamoMaintenanceStore, MaintenanceGate
from chalicelib.settings import Settings, get_settings
from chalicelib.store.counters import IdAllocator


class Deps:
    def __init__(self, settings: Settings, clock: Clock = utcnow) -> None:
        self.settings = settings
        self.clock = clock

    @cached_property
    def ids(self) -> IdAllocator:
        return IdAllocator(self.settings.id_block_size)

    @cached_property
    def maintenance(self) -> MaintenanceGate:
        return MaintenanceGate(DynamoMaintenanceStore(), self.clock, self.settings.maintenance_cache_seconds)

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self.clock)

    @cached_property
    def keys(self) -> ApiKeys:
        return ApiKeys(self.ids, self.clock)

    @cached_property
    def idempotency(self) -> Idempotency:
        return Idempotency(self.clock, self.settings.idempotency_ttl_seconds)

    # --- capability services (notifications, exports, retention) below ---


@lru_cache(maxsize=1)
def get_deps() -> Deps:
    return Deps(get_settings())


def reset_deps() -> None:
    get_deps.cache_clear()
