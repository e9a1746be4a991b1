from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.api.blueprint import ApiBlueprint
from chalicelib.deps import get_deps
from chalicelib.domain.common import Role
from chalicelib.domain.maintenance_mode import StateUnavailable
from chalicelib.errors import ServiceUnavailable
from chalicelib.http import Call, endpoint
from chalicelib.shield import exempt_from_shield

if TYPE_CHECKING:
    from chalicelib.domain.maintenance import MaintenanceState, SetMaintenanceState

maintenance_api = ApiBlueprint(__name__, "/system/maintenance")


@maintenance_api.route("/state", methods=["GET"])
@endpoint(maintenance_api, role=Role.viewer, response="maintenance.MaintenanceState")
def get_state(call: Call) -> MaintenanceState:
    """The maintenance mode now (``ends_at`` applied)."""
    try:
        return get_deps().maintenance.current()
    except StateUnavailable:
        raise ServiceUnavailable("Maintenance state is unavailable.") from None


@maintenance_api.route("/state", methods=["POST"])
@endpoint(
    maintenance_api, role=Role.admin, body="maintenance.SetMaintenanceState", response="maintenance.MaintenanceState"
)
@exempt_from_shield
def set_state(call: Call) -> MaintenanceState:
    """Set the maintenance mode; allowed in every mode, so the system can leave maintenance."""
    change: SetMaintenanceState = call.body()
    previous = get_deps().maintenance.stored()
    state = get_deps().maintenance.set(change, call.principal)
    call.audit("maintenance.set", "maintenance_state", "current", change.model_dump(mode="json"))
    from chalicelib.services.event_sources import announce_maintenance  # on first use, not at cold start

    announce_maintenance(previous, state)
    return state
