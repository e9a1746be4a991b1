"""Item 12: the SSRF guard allows only global unicast IPv6 (2000::/3).

Site-local ``fec0::/10`` (deprecated, but still routed inside some networks) and
anything else outside 2000::/3 is refused: as a literal target through the API
(422, nothing written) and as a DNS answer at delivery time (no connection made).
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from chalicelib.channels.base import ChannelConfig, DeliveryFailed, OutgoingMessage
from chalicelib.channels.webhook import WebhookDriver, new_secret
from chalicelib.domain.notifications import address_problem
from tests.support import Api

OUTSIDE_GLOBAL_UNICAST = ["fec0::1", "fec0:1234::abcd", "feff::1", "100::1", "fe00::1"]
MESSAGE = OutgoingMessage(
    id=1, message_id="msg_local_1", subject="s", body="b", payload=None, created_at="2026-01-01T00:00:00Z"
)


@pytest.mark.parametrize("address", OUTSIDE_GLOBAL_UNICAST)
def test_item12_a_literal_ipv6_target_outside_2000_3_is_refused_with_422(api: Api, address: str) -> None:
    reply = api.post(
        "/system/notify/channels",
        {"name": "site-local", "channel_type": "webhook", "target": f"https://[{address}]/hook"},
    )
    assert reply.status == 422, reply.json
    assert reply.json["detail"][0]["loc"] == ["body", "target"]
    listed = api.get("/system/notify/channels")
    assert listed.status == 200 and listed.json["items"] == []


@pytest.mark.parametrize("address", OUTSIDE_GLOBAL_UNICAST)
def test_item12_a_host_resolving_outside_2000_3_is_refused_before_connecting(
    monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    connections: list[Any] = []
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: connections.append(a))

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))]

    driver = WebhookDriver(timeout=1, allow_private=False, resolver=resolve)
    target = ChannelConfig(1, "hook", "webhook", "https://hooks.valhalla.test/in", (new_secret(),))
    with pytest.raises(DeliveryFailed) as failure:
        driver.send(target, MESSAGE)
    assert failure.value.permanent and "SSRF" in failure.value.error and address in failure.value.error
    assert connections == []


@pytest.mark.parametrize("address", ["2606:4700:4700::1111", "2a00:1450:4001:81c::200e", "2001:4860:4860::8888"])
def test_item12_global_unicast_ipv6_still_passes(address: str) -> None:
    assert address_problem(address) is None
