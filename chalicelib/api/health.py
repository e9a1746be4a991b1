from __future__ import annotations

from typing import Any

from chalicelib import VERSION
from chalicelib.api.blueprint import ApiBlueprint
from chalicelib.deps import get_deps
from chalicelib.domain.maintenance_mode import StateUnavailable
from chalicelib.http import Call, endpoint

health_api = ApiBlueprint(__name__, "/system/health", public=True)


@health_api.route("/", methods=["GET"])
@endpoint(health_api, role=None)
def health(call: Call) -> dict[str, Any]:
    """Liveness, the maintenance mode and the version; no token needed."""
    try:
        mode = get_deps().maintenance.current().mode.value
    except StateUnavailable:
        mode = "unknown"
    return {"status": "ok", "mode": mode, "version": VERSION}
