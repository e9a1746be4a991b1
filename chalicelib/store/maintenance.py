"""The single maintenance-state item (the seed's PACK UE)."""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute

from chalicelib.clock import isoformat, parse_iso
from chalicelib.domain.maintenance import MaintenanceState, Mode
from chalicelib.store.base import StoredModel, TableMeta, register

STATE_ID = "current"


@register
class MaintenanceItem(StoredModel):
    class Meta(TableMeta):
        logical_name = "maintenance_state"

    id = UnicodeAttribute(hash_key=True, default=STATE_ID)
    mode = UnicodeAttribute(default="normal")
    reason = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)
    ends_at = UnicodeAttribute(null=True)


class DynamoMaintenanceStore:
    """The state item, read consistently (the gate caches it) and written whole."""

    def load(self) -> MaintenanceState:
        try:
            item = MaintenanceItem.get(STATE_ID, consistent_read=True)
        except MaintenanceItem.DoesNotExist:
            return MaintenanceState()
        return MaintenanceState(
            mode=Mode(item.mode),
            reason=item.reason,
            updated_at=parse_iso(item.updated_at) if item.updated_at else None,
            updated_by=item.updated_by,
            ends_at=parse_iso(item.ends_at) if item.ends_at else None,
        )

    def save(self, state: MaintenanceState) -> None:
        MaintenanceItem(
            STATE_ID,
            mode=state.mode.value,
            reason=state.reason,
            updated_at=isoformat(state.updated_at) if state.updated_at else None,
            updated_by=state.updated_by,
            ends_at=isoformat(state.ends_at) if state.ends_at else None,
        ).save()
