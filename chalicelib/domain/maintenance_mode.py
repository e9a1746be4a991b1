"""Maintenance modes and the messages the shield answers with.

Apart from the state's models (``maintenance``) so that the shield, on every write route,
loads no model at import.
"""

from __future__ import annotations

from enum import Enum


class StateUnavailable(Exception):
    """The maintenance item could not be read and nothing usable is cached."""


class Mode(str, Enum):
    normal = "normal"
    read_only = "read_only"
    maintenance = "maintenance"


BLOCKED_DETAIL = {
    Mode.read_only: "System is in read-only mode. Write operations are not allowed.",
    Mode.maintenance: "System is under maintenance. All write operations are blocked until maintenance ends.",
}
UNAVAILABLE_DETAIL = "Maintenance state is unavailable; write operations are refused until it can be read."
