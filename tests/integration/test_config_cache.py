"""Per-container caches of API keys and channels: hot-path reads bounded, staleness bounded."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from chalicelib.domain.common import Role
from chalicelib.store import channels as channel_store
from chalicelib.store import keys as key_store
from chalicelib.store.keys import ApiKeyItem
from chalicelib.store.notifications import ChannelItem
from tests.notify_support import create_channel, enqueue
from tests.support import Api


class Clock:
    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    clock = Clock()
    monkeypatch.setattr(key_store._cache, "_monotonic", clock)
    monkeypatch.setattr(channel_store._cache, "_monotonic", clock)
    yield clock


def _count_gets(monkeypatch: pytest.MonkeyPatch, model: type) -> list[object]:
    calls: list[object] = []
    original = model.get

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(model, "get", counting)
    return calls


def test_many_requests_read_the_key_and_the_channel_once(
    api: Api, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = create_channel(api)["id"]
    enqueue(api, channel)
    key_reads, channel_reads = _count_gets(monkeypatch, ApiKeyItem), _count_gets(monkeypatch, ChannelItem)
    for _ in range(20):
        enqueue(api, channel)
    assert key_reads == [] and channel_reads == []
    clock.now += 6  # past VALHALLA_CONFIG_CACHE_SECONDS (5)
    enqueue(api, channel)
    assert len(key_reads) == 1 and len(channel_reads) == 1


def test_a_revocation_elsewhere_applies_within_the_bound_and_here_at_once(
    api: Api, tokens: dict[Role, str], clock: Clock
) -> None:
    operator = api.as_(tokens[Role.operator])
    assert operator.get("/system/notify/channels").status == 200
    key_id = next(key["id"] for key in api.get("/system/keys").json["items"] if key["role"] == "operator")
    item = next(item for item in ApiKeyItem.scan() if int(item.id) == key_id)
    item.update(actions=[ApiKeyItem.revoked_at.set("2026-01-01T00:00:00.000Z")])  # another container
    assert operator.get("/system/notify/channels").status == 200  # this container's copy, for now
    clock.now += 6
    assert operator.get("/system/notify/channels").status == 401

    viewer = api.as_(tokens[Role.viewer])
    assert viewer.get("/system/notify/channels").status == 200
    viewer_id = next(key["id"] for key in api.get("/system/keys").json["items"] if key["role"] == "viewer")
    assert api.delete(f"/system/keys/{viewer_id}").status == 200  # this container: at once
    assert viewer.get("/system/notify/channels").status == 401


def test_a_channel_deactivated_here_refuses_at_once(api: Api, clock: Clock) -> None:
    channel = create_channel(api)["id"]
    enqueue(api, channel)
    assert api.patch(f"/system/notify/channels/{channel}", {"active": False}).status == 200
    assert api.post("/system/notify/", {"channel_id": channel, "subject": "s", "body": "b"}).status == 409


def test_zero_turns_the_caches_off(api: Api, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALHALLA_CONFIG_CACHE_SECONDS", "0")
    from chalicelib.settings import reset_settings

    reset_settings()
    channel = create_channel(api)["id"]
    channel_reads = _count_gets(monkeypatch, ChannelItem)
    for _ in range(3):
        enqueue(api, channel)
    assert len(channel_reads) == 3
