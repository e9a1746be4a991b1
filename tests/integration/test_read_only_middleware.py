"""The read-only shield (seed PACK UJ) and the maintenance state (PACK UE)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app import app
from chalicelib.deps import get_deps
from chalicelib.http import WRITE_METHODS
from tests.support import Api

# The toggle (or nobody could leave maintenance), and the filter tester, which writes nothing.
EXEMPT = {("/system/maintenance/state", "POST"), ("/system/events/filters/test", "POST")}
READ_ONLY_BODY = {
    "status_code": 503,
    "detail": "System is in read-only mode. Write operations are not allowed.",
    "mode": "read_only",
}


def write_routes() -> list[tuple[str, str, object]]:
    return [
        (path, method, entry.view_function)
        for path, methods in app.routes.items()
        for method, entry in methods.items()
        if method in WRITE_METHODS
    ]


def concrete(path: str) -> str:
    return path.replace("{", "").replace("}", "").replace("_id", "1")


def set_mode(api: Api, mode: str, **extra: object) -> None:
    reply = api.post("/system/maintenance/state", {"mode": mode, **extra})
    assert reply.status == 200, reply.json


def test_every_write_route_is_shielded_except_the_exempt_toggle() -> None:
    routes = write_routes()
    assert routes, "the app has write routes"
    for path, method, view in routes:
        if (path, method) in EXEMPT:
            assert getattr(view, "__valhalla_shield_exempt__", False), (method, path)
            assert not getattr(view, "__valhalla_shielded__", False)
        else:
            assert getattr(view, "__valhalla_shielded__", False), f"{method} {path} lacks the shield"


def test_state_defaults_to_normal(api: Api) -> None:
    state = api.get("/system/maintenance/state").json
    assert state["mode"] == "normal" and state["reason"] is None


def test_writes_pass_in_normal_mode(api: Api) -> None:
    assert api.post("/system/keys", {"name": "ok", "role": "viewer"}).status == 201


@pytest.mark.parametrize("mode", ["read_only", "maintenance"])
def test_each_write_route_is_blocked_in_each_non_normal_mode(api: Api, mode: str) -> None:
    set_mode(api, mode)
    for path, method, _view in write_routes():
        if (path, method) in EXEMPT:
            continue
        reply = api.request(method, concrete(path), {})
        assert reply.status == 503, (method, path, reply.json)
        assert reply.json["mode"] == mode
        assert int(reply.headers["retry-after"]) > 0


def test_read_only_body_is_exactly_the_seeds(api: Api) -> None:
    set_mode(api, "read_only")
    reply = api.post("/system/keys", {"name": "blocked", "role": "viewer"})
    assert reply.status == 503
    assert reply.json == READ_ONLY_BODY


def test_maintenance_has_a_stronger_message(api: Api) -> None:
    set_mode(api, "maintenance", reason="db migration")
    reply = api.post("/system/keys", {"name": "blocked", "role": "viewer"})
    assert reply.json["mode"] == "maintenance"
    assert "maintenance" in reply.json["detail"].lower() and reply.json["detail"] != READ_ONLY_BODY["detail"]


def test_blocked_writes_write_nothing(api: Api) -> None:
    before = len(api.get("/system/keys").json["items"])
    set_mode(api, "read_only")
    api.post("/system/keys", {"name": "blocked", "role": "viewer"})
    set_mode(api, "normal")
    assert len(api.get("/system/keys").json["items"]) == before


@pytest.mark.parametrize("mode", ["read_only", "maintenance"])
def test_safe_methods_always_pass(api: Api, mode: str) -> None:
    set_mode(api, mode)
    assert api.get("/system/keys").status == 200
    assert api.get("/system/maintenance/state").json["mode"] == mode
    assert api.get("/system/health").json["mode"] == mode
    # The test client cannot read a body-less preflight answer; ask its gateway directly.
    gateway = api.client.http._local_gateway
    preflight = gateway.handle_request("OPTIONS", "/system/keys", {"authorization": f"Bearer {api.token}"}, b"")
    assert preflight["statusCode"] == 200


def test_reads_never_touch_the_state(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    gate = get_deps().maintenance
    calls = []
    monkeypatch.setattr(gate, "current", lambda: calls.append(1) or (_ for _ in ()).throw(AssertionError()))
    assert api.get("/system/keys").status == 200
    assert api.get("/system/audit").status == 200
    assert calls == []


def test_mode_transitions_and_the_exempt_toggle(api: Api) -> None:
    for mode in ("read_only", "maintenance", "read_only", "normal"):
        reply = api.post("/system/maintenance/state", {"mode": mode, "reason": f"to {mode}"})
        assert reply.status == 200 and reply.json["mode"] == mode
        assert reply.json["updated_by"] == "test-admin" and reply.json["updated_at"].endswith("Z")
    assert api.post("/system/keys", {"name": "after", "role": "viewer"}).status == 201


def test_ends_at_returns_to_normal_and_sets_retry_after(api: Api) -> None:
    soon = datetime.now(UTC) + timedelta(seconds=120)
    set_mode(api, "maintenance", ends_at=soon.isoformat())
    blocked = api.post("/system/keys", {"name": "x", "role": "viewer"})
    assert 100 <= int(blocked.headers["retry-after"]) <= 121
    # Past ends_at the mode is normal again, on its own (an ends_at already past is refused: 422).
    get_deps().maintenance.clock = lambda: soon + timedelta(seconds=1)
    assert api.get("/system/maintenance/state").json["mode"] == "normal"
    assert api.post("/system/keys", {"name": "y", "role": "viewer"}).status == 201


def test_ends_at_must_carry_a_timezone(api: Api) -> None:
    reply = api.post("/system/maintenance/state", {"mode": "read_only", "ends_at": "2030-01-01T00:00:00"})
    assert reply.status == 422


def test_state_unavailable_fails_closed_for_writes_and_reads_still_work(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.store.maintenance import DynamoMaintenanceStore

    get_deps().maintenance.forget()

    def broken(self: object) -> None:
        raise ConnectionError("dynamodb unreachable")

    monkeypatch.setattr(DynamoMaintenanceStore, "load", broken)
    reply = api.post("/system/keys", {"name": "x", "role": "viewer"})
    assert reply.status == 503
    assert "unavailable" in reply.json["detail"] and reply.headers["retry-after"]
    assert api.get("/system/keys").status == 200
    assert api.get("/system/health").json["mode"] == "unknown"


def test_cache_bounds_reads_and_expires(aws: None) -> None:
    from chalicelib.clock import utcnow
    from chalicelib.domain.common import SYSTEM_PRINCIPAL
    from chalicelib.domain.maintenance import Mode, SetMaintenanceState
    from chalicelib.services.maintenance import MaintenanceGate
    from chalicelib.store.maintenance import DynamoMaintenanceStore

    class CountingStore(DynamoMaintenanceStore):
        loads = 0

        def load(self):  # type: ignore[no-untyped-def]
            CountingStore.loads += 1
            return super().load()

    now = [0.0]
    gate = MaintenanceGate(CountingStore(), utcnow, cache_seconds=5, monotonic=lambda: now[0])
    other = MaintenanceGate(DynamoMaintenanceStore(), utcnow, cache_seconds=5)
    for _ in range(50):
        assert gate.current().mode is Mode.normal
    assert CountingStore.loads == 1
    other.set(SetMaintenanceState(mode=Mode.read_only), SYSTEM_PRINCIPAL)
    assert gate.current().mode is Mode.normal  # another container's change: seen after expiry
    now[0] = 5.1
    assert gate.current().mode is Mode.read_only
    assert CountingStore.loads == 2
    gate.set(SetMaintenanceState(mode=Mode.normal), SYSTEM_PRINCIPAL)
    assert gate.current().mode is Mode.normal  # its own change: at once
    assert CountingStore.loads == 2


def test_cache_zero_reads_every_time(aws: None) -> None:
    from chalicelib.clock import utcnow
    from chalicelib.services.maintenance import MaintenanceGate
    from chalicelib.store.maintenance import DynamoMaintenanceStore

    loads = []

    class CountingStore(DynamoMaintenanceStore):
        def load(self):  # type: ignore[no-untyped-def]
            loads.append(1)
            return super().load()

    gate = MaintenanceGate(CountingStore(), utcnow, cache_seconds=0)
    for _ in range(3):
        gate.current()
    assert len(loads) == 3


def test_cache_seconds_comes_from_settings(monkeypatch: pytest.MonkeyPatch, aws: None) -> None:
    from tests.support import reset_all

    monkeypatch.setenv("VALHALLA_MAINTENANCE_CACHE_SECONDS", "0")
    reset_all()
    assert get_deps().maintenance.cache_seconds == 0
