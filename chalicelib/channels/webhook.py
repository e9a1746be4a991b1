"""Webhooks: an HTTP POST signed per the Standard Webhooks specification, behind an SSRF guard.

The guard resolves the host once, refuses the delivery if any address it resolves to
is private, loopback, link-local, multicast, reserved or shared (CGNAT), and then
connects to the address it checked (the ``Host`` header and the TLS server name stay
the URL's host), so a DNS answer that changes between check and connect cannot steer
the request. Redirects are never followed; only 2xx counts as delivered.

``timeout`` is the total deadline of one attempt (connect, send and read together):
a socket timeout alone bounds each read, and a receiver that trickles its answer a
byte at a time would keep the attempt alive past the lease that guards it.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import http.client
import json
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from chalicelib.channels.base import ChannelConfig, Delivered, DeliveryFailed, OutgoingMessage, permanent, transient
from chalicelib.domain.notifications import SECRET_PREFIX, address_problem, literal_ip

Resolver = Callable[..., list[Any]]
USER_AGENT = "Valhalla-Webhooks/1.0"
RETRYABLE_4XX = frozenset({408, 409, 425, 429})
RETRY_AFTER_STATUSES = frozenset({429, 503})
SNIPPET_BYTES = 512


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` with a ``whsec_`` secret."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def webhook_body(message: OutgoingMessage) -> bytes:
    if message.event is not None:
        return json.dumps(message.event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    document = {
        "id": message.id,
        "subject": message.subject,
        "body": message.body,
        "payload": message.payload,
        "created_at": message.created_at,
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def parse_retry_after(value: str | None, now: float) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - now)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to an already checked address, with SNI and certificate checks for the URL's host."""

    def __init__(self, address: str, port: int, server_hostname: str, timeout: float, context: ssl.SSLContext):
        super().__init__(address, port, timeout=timeout, context=context)
        self._server_hostname = server_hostname
        self._pinned_context = context

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = sock  # visible to the attempt's deadline during the TLS handshake too
        self.sock = self._pinned_context.wrap_socket(sock, server_hostname=self._server_hostname)


class _Deadline:
    """Shuts the connection's socket when the attempt's time is up, whatever it is waiting for."""

    def __init__(self, connection: http.client.HTTPConnection, seconds: float) -> None:
        self.connection = connection
        self.expired = False
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._timer.cancel()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sock = self.connection.sock
            if sock is not None:
                try:
                    # The plain socket's shutdown, also under TLS: the blocked read returns at once.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
                except OSError:
                    pass


class WebhookDriver:
    def __init__(
        self,
        *,
        timeout: float,
        allow_private: bool,
        resolver: Resolver = socket.getaddrinfo,
        now: Callable[[], float] = time.time,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.timeout = timeout
        self.allow_private = allow_private
        self.resolver = resolver
        self.now = now
        self.ssl_context = ssl_context

    def send(self, channel: ChannelConfig, message: OutgoingMessage) -> Delivered:
        parts = urlsplit(channel.target)
        scheme, host = parts.scheme, parts.hostname or ""
        if scheme not in ("http", "https") or not host:
            raise permanent(f"Not a webhook URL: {channel.target}")
        if scheme == "http" and not self.allow_private:
            raise permanent("http:// webhook targets are refused where private targets are not allowed")
        port = parts.port or (443 if scheme == "https" else 80)
        address = self.checked_address(host, port)
        body = webhook_body(message)
        timestamp = str(int(self.now()))
        signatures = " ".join(sign(secret, message.message_id, timestamp, body) for secret in channel.signing_secrets)
        default_port = port == (443 if scheme == "https" else 80)
        host_header = (f"[{host}]" if ":" in host else host) + ("" if default_port else f":{port}")
        headers = {
            "Host": host_header,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": message.message_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": signatures,
        }
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection = self._connection(scheme, address, port, host)
        deadline = _Deadline(connection, self.timeout)
        try:
            with deadline:
                connection.connect()
                if deadline.expired:  # it ran out while connecting, before there was a socket to shut
                    raise TimeoutError()
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                snippet = response.read(SNIPPET_BYTES)
                status = response.status
                retry_after_header = response.getheader("Retry-After")
                location = response.getheader("Location")
        except (OSError, ValueError, http.client.HTTPException) as exc:
            if deadline.expired or isinstance(exc, TimeoutError):
                raise transient(
                    f"Timed out: no complete answer from {host} within the {self.timeout:g} s deadline"
                ) from None
            if isinstance(exc, ssl.SSLError):
                raise transient(f"TLS error with {host}: {exc}") from None
            raise transient(f"Connection to {host} failed: {type(exc).__name__}: {exc}") from None
        finally:
            connection.close()
        if deadline.expired:
            # A shut socket reads as the end of the headers: what was read is not the whole answer.
            raise transient(f"Timed out: no complete answer from {host} within the {self.timeout:g} s deadline")
        return self._outcome(status, snippet, retry_after_header, location, message)

    def checked_address(self, host: str, port: int) -> str:
        """The address to connect to: resolved once and, unless allowed, refused if not public."""
        literal = literal_ip(host)
        if literal is not None:
            addresses = [str(literal)]
        else:
            try:
                infos = self.resolver(host, port, type=socket.SOCK_STREAM)
            except (socket.gaierror, UnicodeError, OSError) as exc:
                raise transient(f"Could not resolve {host}: {exc}") from None
            addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
            if not addresses:
                raise transient(f"Could not resolve {host}: no addresses")
        if not self.allow_private:
            for address in addresses:
                problem = address_problem(address)
                if problem:
                    raise permanent(f"Refused by the SSRF guard: {host} resolves to {problem}")
        return addresses[0]

    def _connection(self, scheme: str, address: str, port: int, host: str) -> http.client.HTTPConnection:
        if scheme == "https":
            context = self.ssl_context or ssl.create_default_context()
            return _PinnedHTTPSConnection(address, port, host, self.timeout, context)
        return http.client.HTTPConnection(address, port, timeout=self.timeout)

    def _outcome(
        self,
        status: int,
        snippet: bytes,
        retry_after_header: str | None,
        location: str | None,
        message: OutgoingMessage,
    ) -> Delivered:
        if 200 <= status < 300:
            return Delivered(provider_message_id=message.message_id, http_status=status)
        text = snippet.decode("utf-8", "replace").strip()
        error = f"HTTP {status}" + (f": {text}" if text else "")
        if 300 <= status < 400:
            raise transient(f"HTTP {status}: redirect to {location or '?'} not followed", http_status=status)
        retry_after = parse_retry_after(retry_after_header, self.now()) if status in RETRY_AFTER_STATUSES else None
        if 400 <= status < 500 and status not in RETRYABLE_4XX:
            raise DeliveryFailed(error, permanent=True, http_status=status)
        raise DeliveryFailed(error, permanent=False, http_status=status, retry_after=retry_after)
