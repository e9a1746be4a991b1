"""What every channel driver takes and gives.

A driver's ``send`` returns :class:`Delivered` or raises :class:`DeliveryFailed`;
``permanent`` says whether trying again can help. Drivers never touch the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ChannelConfig:
    id: int
    name: str
    channel_type: str
    target: str
    signing_secrets: tuple[str, ...] = ()  # webhook: the current secret first, then one in its grace period
    rate_limit_per_second: int | None = None


@dataclass(frozen=True)
class OutgoingMessage:
    id: int
    message_id: str  # stable across attempts: the webhook-id, an idempotency token for providers
    subject: str
    body: str
    payload: dict[str, Any] | None
    created_at: str
    event: dict[str, Any] | None = None  # a system event: the webhook body is its envelope


@dataclass(frozen=True)
class Delivered:
    provider_message_id: str | None
    http_status: int | None = None


@dataclass
class DeliveryFailed(Exception):
    error: str
    permanent: bool = False
    http_status: int | None = None
    retry_after: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.error)


def transient(error: str, **kw: Any) -> DeliveryFailed:
    return DeliveryFailed(error, permanent=False, **kw)


def permanent(error: str, **kw: Any) -> DeliveryFailed:
    return DeliveryFailed(error, permanent=True, **kw)


class Driver(Protocol):
    def send(self, channel: ChannelConfig, message: OutgoingMessage) -> Delivered: ...
