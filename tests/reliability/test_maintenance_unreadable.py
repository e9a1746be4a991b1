"""The maintenance item cannot be read: writes are refused (fail closed), reads carry on."""

from __future__ import annotations

import pytest

from chalicelib.deps import get_deps
from chalicelib.http import WRITE_METHODS
from tests.reliability.faults import Faults, snapshot
from tests.support import Api

MAINTENANCE_TABLE = "-maintenance-state"


@pytest.fixture
def unreadable(api: Api, faults: Faults) -> Faults:
    get_deps().maintenance.forget()
    faults.fail("dynamodb", "GetItem", "InternalServerError", table_contains=MAINTENANCE_TABLE, status=500)
    return faults


@pytest.mark.parametrize(
    "code", ["InternalServerError", "AccessDeniedException", "ProvisionedThroughputExceededException"]
)
def test_writes_get_503_with_mode_unknown(api: Api, faults: Faults, code: str) -> None:
    get_deps().maintenance.forget()
    faults.fail("dynamodb", "GetItem", code, table_contains=MAINTENANCE_TABLE)
    before = snapshot()
    reply = api.post("/system/keys", {"name": "blocked", "role": "viewer"})
    assert reply.status == 503
    assert reply.json["mode"] == "unknown" and reply.json["detail"]
    assert int(reply.headers["retry-after"]) >= 1
    assert snapshot() == before


def test_every_shielded_write_route_fails_closed(api: Api, unreadable: Faults) -> None:
    from app import app

    before = snapshot()
    for path, methods in app.routes.items():
        for method, entry in methods.items():
            if method not in WRITE_METHODS or not getattr(entry.view_function, "__valhalla_shielded__", False):
                continue
            concrete = path.replace("{", "").replace("}", "").replace("_id", "1").replace("category", "x")
            reply = api.request(method, concrete, {})
            assert reply.status == 503, (method, path, reply.json)
            assert reply.json["mode"] == "unknown"
    assert snapshot() == before


def test_reads_work_and_health_says_unknown(api: Api, unreadable: Faults) -> None:
    assert api.get("/system/keys").status == 200
    assert api.get("/system/audit").status == 200
    health = api.get("/system/health", token=None)
    assert health.status == 200 and health.json["mode"] == "unknown"
    state = api.get("/system/maintenance/state")
    assert state.status == 503 and state.json["status_code"] == 503


def test_leaving_maintenance_still_works_and_heals_the_gate(api: Api, unreadable: Faults) -> None:
    # The toggle is exempt from the shield: an admin can always write the state.
    assert api.post("/system/maintenance/state", {"mode": "normal"}).status == 200
    # Written through this container, the state is now known here, and writes pass.
    assert api.post("/system/keys", {"name": "after-heal", "role": "viewer"}).status == 201


def test_a_cached_state_outlives_a_failed_read(api: Api, faults: Faults) -> None:
    from chalicelib.services.maintenance import MaintenanceGate, StateUnavailable
    from chalicelib.store.maintenance import DynamoMaintenanceStore

    ticks = iter([0.0, 100.0, 200.0, 300.0])
    gate = MaintenanceGate(
        DynamoMaintenanceStore(), get_deps().clock, cache_seconds=5, monotonic=lambda: next(ticks), stale_seconds=150
    )
    assert gate.current().mode.value == "normal"
    faults.fail("dynamodb", "GetItem", "InternalServerError", table_contains=MAINTENANCE_TABLE)
    assert gate.current().mode.value == "normal"  # stale but known beats refusing every write...
    with pytest.raises(StateUnavailable):
        gate.current()  # ...for a bounded time only (tests/security/test_item10_stale_maintenance.py)
