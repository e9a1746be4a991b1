"""The webhook driver against a real HTTP server on 127.0.0.1, and its SSRF guard.

Signatures are checked with the ``standardwebhooks`` package, an independent
implementation of the specification. SSRF refusals are checked with a fake resolver
and a socket layer that fails the test if anything tries to connect.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from chalicelib.channels.base import ChannelConfig, DeliveryFailed, OutgoingMessage
from chalicelib.channels.webhook import WebhookDriver, new_secret, parse_retry_after, sign
from tests.webhook_receiver import Response, WebhookReceiver

MESSAGE = OutgoingMessage(
    id=7,
    message_id="msg_local_7",
    subject="Alert",
    body="System updated",
    payload={"resource": "config", "action": "update"},
    created_at="2026-01-02T03:04:05.678Z",
)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


def channel(target: str, *secrets: str) -> ChannelConfig:
    return ChannelConfig(id=1, name="hook", channel_type="webhook", target=target, signing_secrets=secrets)


def driver(allow_private: bool = True, resolver: Any = socket.getaddrinfo, timeout: float = 5.0) -> WebhookDriver:
    return WebhookDriver(timeout=timeout, allow_private=allow_private, resolver=resolver)


def fake_resolver(table: dict[str, list[str]]) -> Any:
    """A DNS that answers from ``table`` (host -> addresses) and knows nothing else."""

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
            for address in table[host]
        ]

    return resolve


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Fail loudly if the code under test opens any TCP connection."""
    attempts: list[Any] = []

    def refuse(address: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(address)
        raise AssertionError(f"a connection to {address} was attempted")

    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


# --- signing and the request -----------------------------------------------------


def test_signed_post_verifies_with_the_standard_webhooks_library(receiver: WebhookReceiver) -> None:
    secret = new_secret()
    delivered = driver().send(channel(receiver.url("/in?team=ops"), secret), MESSAGE)
    assert delivered.http_status == 200 and delivered.provider_message_id == "msg_local_7"
    (request,) = receiver.requests
    assert request.method == "POST" and request.path == "/in?team=ops"
    assert request.header("content-type") == "application/json"
    assert request.header("webhook-id") == "msg_local_7"
    document = Webhook(secret).verify(request.body, request.headers)
    assert document == {
        "id": 7,
        "subject": "Alert",
        "body": "System updated",
        "payload": {"resource": "config", "action": "update"},
        "created_at": "2026-01-02T03:04:05.678Z",
    }
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(request.body, request.headers)
    tampered = request.body.replace(b"System", b"Sistem")
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tampered, request.headers)


def test_during_rotation_both_secrets_sign(receiver: WebhookReceiver) -> None:
    new, old = new_secret(), new_secret()
    driver().send(channel(receiver.url(), new, old), MESSAGE)
    (request,) = receiver.requests
    assert len(request.header("webhook-signature").split(" ")) == 2
    Webhook(new).verify(request.body, request.headers)
    Webhook(old).verify(request.body, request.headers)


def test_the_webhook_id_is_stable_across_attempts(receiver: WebhookReceiver) -> None:
    receiver.fail_times(1)
    secret = new_secret()
    with pytest.raises(DeliveryFailed):
        driver().send(channel(receiver.url(), secret), MESSAGE)
    driver().send(channel(receiver.url(), secret), MESSAGE)
    ids = {request.header("webhook-id") for request in receiver.requests}
    assert ids == {"msg_local_7"}


def test_sign_matches_the_library_for_unicode_bodies() -> None:
    from datetime import UTC, datetime

    secret = new_secret()
    body = '{"subject":"snø ✓"}'
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    expected = Webhook(secret).sign("msg_1", stamp, body)
    assert sign(secret, "msg_1", str(int(stamp.timestamp())), body.encode()) == expected


# --- answers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(500, False), (502, False), (503, False), (408, False), (409, False), (425, False), (429, False)]
    + [(400, True), (401, True), (403, True), (404, True), (410, True), (413, True), (422, True)],
)
def test_only_2xx_is_success_and_4xx_but_a_few_are_permanent(
    receiver: WebhookReceiver, status: int, permanent: bool
) -> None:
    receiver.script(Response(status, body=b"nope"))
    with pytest.raises(DeliveryFailed) as failure:
        driver().send(channel(receiver.url(), new_secret()), MESSAGE)
    assert failure.value.permanent is permanent
    assert failure.value.http_status == status and f"HTTP {status}" in failure.value.error


@pytest.mark.parametrize("status", [201, 202, 204])
def test_any_2xx_is_delivered(receiver: WebhookReceiver, status: int) -> None:
    receiver.script(Response(status, body=b""))
    assert driver().send(channel(receiver.url(), new_secret()), MESSAGE).http_status == status


def test_redirects_are_not_followed(receiver: WebhookReceiver) -> None:
    receiver.script(Response.redirect(receiver.url("/elsewhere")))
    with pytest.raises(DeliveryFailed) as failure:
        driver().send(channel(receiver.url("/in"), new_secret()), MESSAGE)
    assert "not followed" in failure.value.error and failure.value.http_status == 302
    assert [request.path for request in receiver.requests] == ["/in"]


def test_retry_after_is_read_on_429_and_503(receiver: WebhookReceiver) -> None:
    receiver.script(Response.too_many(120), Response.too_many(30, status=503), Response(500, {"Retry-After": "99"}))
    results = []
    for _ in range(3):
        with pytest.raises(DeliveryFailed) as failure:
            driver().send(channel(receiver.url(), new_secret()), MESSAGE)
        results.append(failure.value.retry_after)
    assert results == [120.0, 30.0, None]


def test_retry_after_as_an_http_date() -> None:
    assert parse_retry_after("Thu, 01 Jan 2026 00:01:00 GMT", now=1767225600.0) == 60.0
    assert parse_retry_after("soon", now=0) is None
    assert parse_retry_after(None, now=0) is None


def test_a_slow_receiver_times_out_as_a_transient_failure(receiver: WebhookReceiver) -> None:
    receiver.script(Response(200, delay=30))
    with pytest.raises(DeliveryFailed) as failure:
        driver(timeout=0.2).send(channel(receiver.url(), new_secret()), MESSAGE)
    assert not failure.value.permanent and "Timed out" in failure.value.error


def test_a_closed_port_is_a_transient_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DeliveryFailed) as failure:
        driver().send(channel(f"http://127.0.0.1:{port}/in", new_secret()), MESSAGE)
    assert not failure.value.permanent and "Connection" in failure.value.error


def test_it_connects_to_the_resolved_address_with_the_original_host(receiver: WebhookReceiver) -> None:
    resolver = fake_resolver({"hooks.valhalla.test": ["127.0.0.1"]})
    url = f"http://hooks.valhalla.test:{receiver.port}/in"
    driver(resolver=resolver).send(channel(url, new_secret()), MESSAGE)
    (request,) = receiver.requests
    assert request.header("host") == f"hooks.valhalla.test:{receiver.port}"


def test_https_uses_the_url_host_for_sni_and_certificate_checks(receiver: WebhookReceiver) -> None:
    seen: dict[str, Any] = {}

    class RecordingContext(ssl.SSLContext):
        def wrap_socket(self, sock: Any, *args: Any, server_hostname: str | None = None, **kwargs: Any) -> Any:
            seen["server_hostname"] = server_hostname
            seen["peer"] = sock.getpeername()
            sock.close()
            raise ssl.SSLError("handshake refused by the test")

    resolver = fake_resolver({"secure.valhalla.test": ["127.0.0.1"]})
    hook = WebhookDriver(
        timeout=2, allow_private=True, resolver=resolver, ssl_context=RecordingContext(ssl.PROTOCOL_TLS_CLIENT)
    )
    with pytest.raises(DeliveryFailed) as failure:
        hook.send(channel(f"https://secure.valhalla.test:{receiver.port}/in", new_secret()), MESSAGE)
    assert not failure.value.permanent and "TLS" in failure.value.error
    assert seen == {"server_hostname": "secure.valhalla.test", "peer": ("127.0.0.1", receiver.port)}


def test_dns_failure_is_transient(no_connections: list[Any]) -> None:
    with pytest.raises(DeliveryFailed) as failure:
        driver(allow_private=False, resolver=fake_resolver({})).send(
            channel("https://nowhere.valhalla.test/in", new_secret()), MESSAGE
        )
    assert not failure.value.permanent and "resolve" in failure.value.error
    assert no_connections == []


# --- the SSRF guard ----------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.1",
        "127.0.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "224.0.0.251",
        "240.0.0.1",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:10.0.0.5",
        "64:ff9b::a00:5",
        "ff02::1",
    ],
)
def test_a_hostname_resolving_to_a_non_public_address_is_refused_before_any_connection(
    no_connections: list[Any], address: str
) -> None:
    resolver = fake_resolver({"internal.valhalla.test": [address]})
    with pytest.raises(DeliveryFailed) as failure:
        driver(allow_private=False, resolver=resolver).send(
            channel("https://internal.valhalla.test/hook", new_secret()), MESSAGE
        )
    assert failure.value.permanent and "SSRF" in failure.value.error and address in failure.value.error
    assert no_connections == []


@pytest.mark.parametrize(
    "target",
    [
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.1.2.3:8443/hook",
        "https://[::1]/hook",
        "https://[fe80::1]/hook",
        "https://100.100.100.100/hook",
    ],
)
def test_literal_non_public_addresses_are_refused_before_any_connection(no_connections: list[Any], target: str) -> None:
    with pytest.raises(DeliveryFailed) as failure:
        driver(allow_private=False, resolver=fake_resolver({})).send(channel(target, new_secret()), MESSAGE)
    assert failure.value.permanent and "SSRF" in failure.value.error
    assert no_connections == []


def test_one_private_address_among_public_ones_is_enough_to_refuse(no_connections: list[Any]) -> None:
    resolver = fake_resolver({"mixed.valhalla.test": ["93.184.216.34", "10.0.0.5"]})
    with pytest.raises(DeliveryFailed) as failure:
        driver(allow_private=False, resolver=resolver).send(
            channel("https://mixed.valhalla.test/hook", new_secret()), MESSAGE
        )
    assert failure.value.permanent and "10.0.0.5" in failure.value.error
    assert no_connections == []


def test_plain_http_is_refused_when_the_guard_is_on(no_connections: list[Any]) -> None:
    with pytest.raises(DeliveryFailed) as failure:
        driver(allow_private=False, resolver=fake_resolver({"a.test": ["93.184.216.34"]})).send(
            channel("http://a.test/hook", new_secret()), MESSAGE
        )
    assert failure.value.permanent and "http://" in failure.value.error
    assert no_connections == []


def test_a_public_address_passes_the_guard_and_is_the_one_connected_to(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[Any] = []

    def record(address: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(address)
        raise ConnectionRefusedError("the test stops here")

    monkeypatch.setattr(socket, "create_connection", record)
    resolver = fake_resolver({"public.valhalla.test": ["93.184.216.34"]})
    with pytest.raises(DeliveryFailed) as failure:
        driver(allow_private=False, resolver=resolver).send(
            channel("https://public.valhalla.test/hook", new_secret()), MESSAGE
        )
    assert not failure.value.permanent
    assert attempts == [("93.184.216.34", 443)]
