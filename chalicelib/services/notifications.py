"""Notifications (the seed's PACK UG) as one object for the API and the workers.

The work is done by three services, one concept each: :class:`~.channels.Channels`,
:class:`~.outbox.Outbox` (accept, show, retry, sweep) and :class:`~.delivery.Delivery`
(claim, send, record). Their data access is in ``chalicelib/store/``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalicelib.channels.registry import Registry
from chalicelib.clock import Clock
from chalicelib.domain.common import Principal
from chalicelib.domain.notifications import (
    ChannelQuery,
    ChannelView,
    CreateChannel,
    CreatedChannel,
    EnqueueNotification,
    NotificationDetail,
    NotificationQuery,
    NotificationView,
    RotatedSecret,
    UpdateChannel,
)
from chalicelib.services.channels import Channels
from chalicelib.services.delivery import Delivery, DeliveryReport
from chalicelib.services.idempotency import Idempotency
from chalicelib.services.outbox import Outbox, Queue
from chalicelib.settings import Settings
from chalicelib.store.counters import IdAllocator, TimeOrderedIds
from chalicelib.store.notifications import OutboxItem

if TYPE_CHECKING:
    from chalicelib.services.guard import DeliveryGuard

__all__ = ["DeliveryReport", "Notifications"]


class Notifications:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        ids: IdAllocator,
        sqs: Callable[[], Any] | None = None,
        registry: Registry | None = None,
        rand: random.Random | None = None,
        monotonic: Callable[[], float] = time.perf_counter,
        notification_ids: TimeOrderedIds | None = None,
        on_gave_up: Callable[[dict[str, Any]], None] | None = None,
        idempotency: Idempotency | None = None,
        guard: DeliveryGuard | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.registry = registry or Registry(settings)
        self.queue = Queue(settings, sqs)
        self.channels = Channels(settings, clock, ids)
        self.outbox = Outbox(settings, clock, self.channels, self.queue, notification_ids, idempotency=idempotency)
        self.delivery = Delivery(
            settings, clock, self.channels, self.registry, rand, monotonic, on_gave_up=on_gave_up, guard=guard
        )

    @property
    def guard(self) -> DeliveryGuard | None:
        return self.delivery.guard

    # The queue, for the worker's visibility changes.
    @property
    def sqs(self) -> Any:
        return self.queue.sqs

    @property
    def queue_url(self) -> str:
        return self.queue.url

    # --- channels
    def create_channel(self, request: CreateChannel) -> CreatedChannel:
        return self.channels.create(request)

    def get_channel(self, channel_id: int) -> ChannelView:
        return self.channels.get(channel_id)

    def list_channels(self, query: ChannelQuery) -> tuple[list[ChannelView], str | None]:
        return self.channels.page(query)

    def update_channel(self, channel_id: int, change: UpdateChannel) -> ChannelView:
        return self.channels.update(channel_id, change)

    def rotate_secret(self, channel_id: int) -> RotatedSecret:
        return self.channels.rotate_secret(channel_id)

    def list_all_channels_redacted(self) -> list[dict[str, Any]]:
        return self.channels.snapshot()

    # --- the outbox
    def enqueue(self, request: EnqueueNotification, principal: Principal) -> NotificationView:
        return self.outbox.enqueue(request, principal)

    def enqueue_once(
        self,
        request: EnqueueNotification,
        principal: Principal,
        idempotency_key: str | None,
        raw_body: bytes,
        on_created: Callable[[NotificationView], None] | None = None,
    ) -> dict[str, Any]:
        return self.outbox.enqueue_once(request, principal, idempotency_key, raw_body, on_created)

    def get_notification(self, notification_id: int) -> NotificationDetail:
        return self.outbox.get(notification_id)

    def list_notifications(self, query: NotificationQuery) -> tuple[list[NotificationView], str | None]:
        return self.outbox.page(query)

    def retry(self, notification_id: int) -> NotificationView:
        return self.outbox.retry(notification_id)

    def sweep(self) -> int:
        return self.outbox.sweep()

    # --- delivery
    def claim(self, notification_id: int, owner: str) -> OutboxItem | DeliveryReport:
        return self.delivery.claim(notification_id, owner)

    def deliver(self, notification_id: int, owner: str | None = None) -> DeliveryReport:
        return self.delivery.deliver(notification_id, owner)

    def message_id(self, notification_id: int) -> str:
        return self.delivery.message_id(notification_id)
