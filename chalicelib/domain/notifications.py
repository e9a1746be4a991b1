"""Notification channels and the outbox (the seed's PACK UG): schemas, statuses, rules.

Nothing here talks to AWS or HTTP: the validation of a channel's target per type,
the size bounds of a notification, the retry decision and the address rules of the
SSRF guard are plain functions, tested without I/O.
"""

from __future__ import annotations

import ipaddress
import json
import random
import re
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator, model_validator

from chalicelib.domain.common import PlainText, RecordId, SingleLine, Timestamp
from chalicelib.domain.ratelimit import MAX_RATE_PER_SECOND
from chalicelib.domain.schema import PageQuery, Schema, StrictInput


class ChannelType(str, Enum):
    email = "email"
    webhook = "webhook"
    sms = "sms"


class NotificationStatus(str, Enum):
    pending = "pending"
    sent = "sent"
    failed = "failed"


class Outcome(str, Enum):
    sent = "sent"
    retry = "retry"
    failed = "failed"


# Bounds: the outbox item (subject, body, payload, attempt history) stays far below
# DynamoDB's 400 KB item limit, and a webhook body far below any receiver's limits.
SUBJECT_MAX_CHARS = 512
BODY_MAX_BYTES = 64 * 1024
PAYLOAD_MAX_BYTES = 64 * 1024
NAME_MAX_CHARS = 256
TARGET_MAX_CHARS = 512
DESCRIPTION_MAX_CHARS = 2000
ERROR_MAX_CHARS = 500
MAX_VISIBILITY_SECONDS = 12 * 3600  # SQS's ceiling for a message's visibility timeout
SECRET_PREFIX = "whsec_"
PREVIOUS_SECRET_HOURS = 24
# Manual retries stop here: the attempt history (~250 bytes an attempt) must fit in the item.
MAX_TOTAL_ATTEMPTS = 200

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_RE = re.compile(rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]{{1,64}}@{_LABEL}(?:\.{_LABEL})+$")
E164_RE = re.compile(r"^\+[1-9][0-9]{6,14}$")
HOST_LABEL_RE = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9 _.:@-]*$"


def target_problem(channel_type: ChannelType, target: str, allow_http: bool = True) -> str | None:
    """Why ``target`` is not a valid address for a channel of this type, or ``None``."""
    if channel_type is ChannelType.email:
        if not EMAIL_RE.match(target) or len(target) > 254 or ".." in target:
            return "Must be an email address such as owner@example.com."
        return None
    if channel_type is ChannelType.sms:
        if not E164_RE.match(target):
            return "Must be an E.164 phone number such as +14155550100."
        return None
    return url_problem(target, allow_http)


def url_problem(target: str, allow_http: bool) -> str | None:
    if any(char.isspace() for char in target):
        return "Must be a URL without whitespace."
    try:
        parts = urlsplit(target)
        port = parts.port
    except ValueError:
        return "Must be a valid URL."
    if parts.scheme not in ("https", "http"):
        return "Must be an https:// URL."
    if parts.scheme == "http" and not allow_http:
        return "Must be an https:// URL (http:// only where private webhook targets are allowed)."
    if parts.username is not None or parts.password is not None:
        return "Must not carry credentials in the URL."
    if parts.fragment:
        return "Must not carry a #fragment."
    host = parts.hostname or ""
    if not host:
        return "Must name a host."
    if port == 0:
        return "Must use a valid port."
    if literal_ip(host) is None and not all(HOST_LABEL_RE.match(label) for label in host.rstrip(".").split(".")):
        return "Must name a valid host."
    return None


def literal_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# IPv6 is allowed only in global unicast space: everything else (site-local fec0::/10,
# which ``ipaddress`` counts as global, and whatever is assigned later) is refused.
GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")


def address_problem(address: str) -> str | None:
    """Why a webhook must not connect to ``address`` (the SSRF guard), or ``None``."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return f"{address} is not an IP address"
    embedded: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            embedded.append(ip.ipv4_mapped)
        if ip.sixtofour:
            embedded.append(ip.sixtofour)
        if ip.teredo:
            embedded.extend(ip.teredo)
        if ip in NAT64:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    for candidate in embedded:
        for label, test in (
            ("loopback", candidate.is_loopback),
            ("link-local", candidate.is_link_local),
            ("private", candidate.is_private),
            ("multicast", candidate.is_multicast),
            ("unspecified", candidate.is_unspecified),
            ("reserved", candidate.is_reserved),
            ("shared (CGNAT)", isinstance(candidate, ipaddress.IPv4Address) and candidate in CGNAT),
            ("not globally routable", not candidate.is_global),
        ):
            if test:
                return f"{address} is a {label} address"
    if isinstance(ip, ipaddress.IPv6Address) and ip not in GLOBAL_UNICAST_V6 and not ip.ipv4_mapped and ip not in NAT64:
        return f"{address} is not a global unicast (2000::/3) address"
    return None


def retry_delay(
    cycle_attempts: int,
    schedule: tuple[int, ...],
    retry_after: float | None = None,
    rand: random.Random | None = None,
) -> int | None:
    """Seconds to wait before the next attempt after ``cycle_attempts`` failed ones; ``None``: give up.

    The schedule's step is jittered by +/-20% (never below the step's floor of 0) so that
    a burst of failures does not come back as a burst. A receiver's ``Retry-After`` is a
    floor. Never above SQS's 12-hour visibility ceiling.
    """
    if cycle_attempts > len(schedule):
        return None
    step = schedule[cycle_attempts - 1]
    jitter = (rand or random).uniform(0.8, 1.2)
    delay = round(step * jitter)
    if retry_after is not None:
        delay = max(delay, int(retry_after + 0.999))
    return max(0, min(delay, MAX_VISIBILITY_SECONDS))


def clip_error(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= ERROR_MAX_CHARS else text[: ERROR_MAX_CHARS - 1] + "\u2026"


def redact_target(channel_type: ChannelType, target: str) -> str:
    """A target as a configuration snapshot shows it: a webhook URL's path and query may hold tokens."""
    if channel_type is not ChannelType.webhook:
        return target
    parts = urlsplit(target)
    if parts.path in ("", "/") and not parts.query:
        return target
    return f"{parts.scheme}://{parts.netloc}/[redacted]"


# --- requests ---------------------------------------------------------------


class CreateChannel(StrictInput):
    name: SingleLine = Field(min_length=1, max_length=NAME_MAX_CHARS, pattern=NAME_RE)
    channel_type: ChannelType
    target: SingleLine = Field(min_length=1, max_length=TARGET_MAX_CHARS)
    active: bool = True
    description: PlainText | None = Field(default=None, max_length=DESCRIPTION_MAX_CHARS)
    rate_limit_per_second: int | None = Field(
        default=None, ge=1, le=MAX_RATE_PER_SECOND, description="Deliveries a second at most; null: unlimited."
    )

    @field_validator("target")
    @classmethod
    def _target_matches_type(cls, value: str, info: ValidationInfo) -> str:
        channel_type = info.data.get("channel_type")
        if isinstance(channel_type, ChannelType):
            problem = target_problem(channel_type, value)
            if problem:
                raise ValueError(problem)
        return value


class UpdateChannel(StrictInput):
    target: SingleLine | None = Field(default=None, min_length=1, max_length=TARGET_MAX_CHARS)
    active: bool | None = None
    description: PlainText | None = Field(default=None, max_length=DESCRIPTION_MAX_CHARS)
    rate_limit_per_second: int | None = Field(
        default=None, ge=1, le=MAX_RATE_PER_SECOND, description="Deliveries a second at most; null: unlimited."
    )

    @model_validator(mode="after")
    def _something(self) -> UpdateChannel:
        if not self.model_fields_set:
            raise ValueError("Give at least one of target, active, description, rate_limit_per_second.")
        if "target" in self.model_fields_set and self.target is None:
            raise ValueError("target: must not be null")
        if "active" in self.model_fields_set and self.active is None:
            raise ValueError("active: must not be null")
        return self


class ChannelQuery(PageQuery):
    active: bool | None = None
    channel_type: ChannelType | None = None


class EnqueueNotification(StrictInput):
    channel_id: RecordId
    subject: SingleLine = Field(min_length=1, max_length=SUBJECT_MAX_CHARS)
    body: PlainText = Field(min_length=0)
    payload: dict[str, Any] | None = None

    def size_problem(self) -> str | None:
        """Why this notification is too large to accept (413), or ``None``."""
        body_bytes = len(self.body.encode("utf-8"))
        if body_bytes > BODY_MAX_BYTES:
            return f"body is {body_bytes} bytes; the limit is {BODY_MAX_BYTES}."
        if self.payload is not None:
            payload_bytes = len(json.dumps(self.payload, separators=(",", ":")).encode("utf-8"))
            if payload_bytes > PAYLOAD_MAX_BYTES:
                return f"payload is {payload_bytes} bytes as JSON; the limit is {PAYLOAD_MAX_BYTES}."
        return None


class NotificationQuery(PageQuery):
    status: NotificationStatus | None = None
    channel_id: RecordId | None = None


# --- responses --------------------------------------------------------------


class ChannelView(Schema):
    id: int
    name: str
    channel_type: ChannelType
    target: str
    active: bool
    description: str | None = None
    created_at: Timestamp
    updated_at: Timestamp
    secret_rotated_at: Timestamp | None = None
    rate_limit_per_second: int | None = None


class CreatedChannel(ChannelView):
    signing_secret: str | None = Field(
        default=None, description="Webhook channels only: the whsec_ signing secret, shown only in this response."
    )


class RotatedSecret(Schema):
    id: int
    signing_secret: str
    previous_secret_expires_at: Timestamp


class Attempt(Schema):
    number: int
    at: Timestamp
    outcome: Outcome
    duration_ms: float
    http_status: int | None = None
    error: str | None = None
    provider_message_id: str | None = None
    next_attempt_at: Timestamp | None = None


class NotificationView(Schema):
    id: int
    channel_id: int
    channel_type: ChannelType
    subject: str
    body: str
    payload: dict[str, Any] | None = None
    status: NotificationStatus
    attempts: int
    last_error: str | None = None
    created_at: Timestamp
    updated_at: Timestamp
    sent_at: Timestamp | None = None
    next_attempt_at: Timestamp | None = None
    provider_message_id: str | None = None


class NotificationDetail(NotificationView):
    history: list[Attempt] = Field(default_factory=list)
