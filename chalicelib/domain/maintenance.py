"""The maintenance state and its change request (the modes themselves: ``maintenance_mode``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from chalicelib.domain.common import InputTimestamp, PlainText, Timestamp

# Re-exported: the modes belong with the state, but the shield imports them without its models.
from chalicelib.domain.maintenance_mode import BLOCKED_DETAIL, UNAVAILABLE_DETAIL, Mode, StateUnavailable
from chalicelib.domain.schema import Schema, StrictInput

__all__ = [
    "BLOCKED_DETAIL",
    "UNAVAILABLE_DETAIL",
    "MaintenanceState",
    "Mode",
    "SetMaintenanceState",
    "StateUnavailable",
]


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
