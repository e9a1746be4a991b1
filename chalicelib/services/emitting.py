"""The one function other code calls to emit a system event (see :mod:`chalicelib.services.events`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from chalicelib.logs import get_logger

# Set by chalicelib.deps when it loads (this module must not import it: deps builds the services that emit).
_bus: Callable[[], Any] = lambda: None  # noqa: E731


def provide(bus: Callable[[], Any]) -> None:
    global _bus
    _bus = bus


def emit(event_type: str, data: dict[str, Any] | BaseModel, *, key: str | None = None) -> str | None:
    """Emit a system event from anywhere; returns its id, or ``None`` if it could not even be built.

    ``data`` must fit the type's schema (``GET /system/events/types``). ``key`` names the
    fact (``"export:7:completed"``): emitting the same key again is a no-op, so a
    retried worker does not announce one fact twice. Never raises.
    """
    try:
        bus = _bus()
    except Exception:
        get_logger().exception("event not emitted: no event bus", extra={"event_type": event_type})
        return None
    if bus is None:
        get_logger().error("event not emitted: no event bus yet", extra={"event_type": event_type})
        return None
    return bus.emit(event_type, data, key=key)
