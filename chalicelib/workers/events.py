"""The events sweeper: finishes fan-outs left incomplete, and announces a maintenance window's end.

A mode set with ``ends_at`` returns to ``normal`` by itself, with no write; the sweeper
sees the stored mode past its ``ends_at`` and emits ``maintenance.changed`` for it,
keyed by that ``ends_at`` so that every sweep after the first is a no-op.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.clock import isoformat
from chalicelib.deps import Deps, get_deps
from chalicelib.domain.maintenance import MaintenanceState, Mode
from chalicelib.logs import get_logger
from chalicelib.services.event_sources import announce_maintenance


def sweep(deps: Deps | None = None) -> int:
    deps = deps or get_deps()
    finished = deps.events.sweep()
    try:
        announce_window_end(deps)
    except Exception:
        get_logger().exception("could not check the maintenance window's end")
    return finished


def announce_window_end(deps: Deps) -> bool:
    stored = deps.maintenance.store.load()
    now = deps.clock()
    if stored.mode is Mode.normal or stored.ends_at is None or stored.ends_at > now:
        return False
    after = MaintenanceState(mode=Mode.normal, reason="The maintenance window ended.", updated_by="system")
    announce_maintenance(stored, after, key=f"maintenance:ended:{isoformat(stored.ends_at)}")
    return True


def deferred_event(body: str | None) -> dict[str, Any] | None:
    """The event in a notifications-queue message that carries one (``{"event": {...}}``), or ``None``."""
    try:
        value = json.loads(body or "")
    except ValueError:
        return None
    event = value.get("event") if isinstance(value, dict) else None
    return event if isinstance(event, dict) and isinstance(event.get("id"), str) else None


def record_deferred(event: dict[str, Any], deps: Deps | None = None) -> bool:
    """Record a deferred event; ``False`` (retry the message later) if the event table still refuses it."""
    try:
        (deps or get_deps()).events.record_deferred(event)
    except Exception:
        get_logger().warning("deferred event not recorded yet", extra={"event_id": event.get("id")}, exc_info=True)
        return False
    return True
