from __future__ import annotations

from chalice.app import Blueprint

from chalicelib.auth import api_key_authorizer
from chalicelib.deps import get_deps
from chalicelib.domain.common import Role
from chalicelib.domain.maintenance import MaintenanceState, SetMaintenanceState
from chalicelib.errors import ServiceUnavailable
from chalicelib.http import Call, endpoint
from chalicelib.services.maintenance import StateUnavailable
from chalicelib.shield import exempt_from_shield

maintenance_api = Blueprint(__name__)


@maintenance_api.route("/system/maintenance/state", methods=["GET"], authorizer=api_key_authorizer)
@endpoint(maintenance_api, role=Role.viewer, response=MaintenanceState)
def get_state(call: Call) -> MaintenanceState:
    """The maintenance mode now (``ends_at`` applied)."""
    try:
        return get_deps().maintenance.current()
    except StateUnavailable:
        raise ServiceUnavailable("Maintenance state is unavailable.") from None


@maintenance_api.route("/system/maintenance/state", methods=["POST"], authorizer=api_key_authorizer)
@endpoint(maintenance_api, role=Role.admin, body=SetMaintenanceState, response=MaintenanceState)
@exempt_from_shield
def set_state(call: Call) -> MaintenanceState:
    """Set the maintenance mode; allowed in every mode, so the system can leave maintenance."""
    change = call.body(SetMaintenanceState)
    state = get_deps().maintenance.set(change, call.principal)
    call.audit("maintenance.set", "maintenance_state", "current", change.model_dump(mode="json"))
    return state
