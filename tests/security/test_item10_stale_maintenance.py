"""Item 10: a cached maintenance state is trusted only for a bounded time once it cannot be read."""

from __future__ import annotations

import pytest

from chalicelib import aws
from chalicelib.deps import get_deps
from chalicelib.store.models import create_tables
from tests.support import Api, reset_all


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def new_key(api: Api, name: str) -> int:
    return api.post("/system/keys", {"name": name, "role": "viewer"}).status


def test_item10_writes_fail_closed_once_the_cached_state_is_too_old(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALHALLA_MAINTENANCE_CACHE_SECONDS", "5")
    monkeypatch.setenv("VALHALLA_MAINTENANCE_STALE_MULTIPLE", "4")
    reset_all()
    gate = get_deps().maintenance
    clock = FakeMonotonic()
    gate.monotonic = clock
    assert new_key(api, "before") == 201  # the state is read and cached

    # The state can no longer be read (its table is gone).
    aws.client("dynamodb").delete_table(TableName=get_deps().settings.table("maintenance_state"))
    clock.now += 6  # past the cache time, within 4 x 5 s: the last known state still serves
    assert new_key(api, "stale-but-bounded") == 201

    clock.now += 15  # 21 s since the last successful read: more than 4 x 5 s
    refused = api.post("/system/keys", {"name": "too-stale", "role": "viewer"})
    assert refused.status == 503, refused.json
    assert refused.json["mode"] == "unknown" and "retry-after" in refused.headers
    assert api.get("/system/maintenance/state").status == 503

    create_tables()  # the state is readable again (its table is back)
    assert new_key(api, "after") == 201
    names = [key["name"] for key in api.get("/system/keys").json["items"]]
    assert "too-stale" not in names and {"before", "stale-but-bounded", "after"} <= set(names)
