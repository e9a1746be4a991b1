"""Maintenance modes and the messages the shield answers with."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from pydantic import Field

from chalicelib.domain.common import InputTimestamp, PlainText, Schema, StrictInput, Timestamp


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


class MaintenanceState(Schema):
    mode: Mode = Mode.normal
    reason: str | None = None
    updated_at: Timestamp | None = None
    updated_by: str | None = None
    ends_at: Timestamp | None = None

    def effective(self, now: datetime) -> MaintenanceState:
        """Past ``ends_at`` the system is back to normal on its own."""
        if self.mode is not Mode.normal and self.ends_at is not None and now >= self.ends_at:
            return self.model_copy(update={"mode": Mode.normal})
        return self


class SetMaintenanceState(StrictInput):
    mode: Mode
    reason: PlainText | None = Field(default=None, max_length=1000)
    ends_at: InputTimestamp | None = None
