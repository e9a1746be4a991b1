"""The single maintenance-state item (the seed's PACK UE)."""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from chalicelib.store.base import TableMeta, register

STATE_ID = "current"


@register
class MaintenanceItem(Model):
    class Meta(TableMeta):
        logical_name = "maintenance_state"

    id = UnicodeAttribute(hash_key=True, default=STATE_ID)
    mode = UnicodeAttribute(default="normal")
    reason = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)
    ends_at = UnicodeAttribute(null=True)
