"""Notification channels, the outbox and its delivery (the seed's PACK UG).

An accepted notification is written to the outbox as ``pending`` before anything else
happens to it; the SQS message that follows only says "look at item N". Whatever
fails after the write (the SQS send, a worker, a provider) leaves the item
``pending`` with a ``due_at``, and the sweeper re-enqueues items left past it.

A worker *claims* an item with a conditional update (a lease) before sending, so a
duplicate message does not send twice while the lease holds, and writes the outcome
on the condition that it still holds the lease.
"""

from __future__ import annotations

import json
import random
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.channels.base import ChannelConfig, Delivered, DeliveryFailed, OutgoingMessage
from chalicelib.channels.registry import Registry
from chalicelib.channels.secret_box import SecretBox, SecretBoxError
from chalicelib.channels.webhook import new_secret
from chalicelib.clock import Clock, isoformat, parse_iso
from chalicelib.domain.common import Principal
from chalicelib.domain.errors import Conflict, InvalidField, NotFound, TooLarge
from chalicelib.domain.notifications import (
    MAX_TOTAL_ATTEMPTS,
    PREVIOUS_SECRET_HOURS,
    Attempt,
    ChannelQuery,
    ChannelType,
    ChannelView,
    CreateChannel,
    CreatedChannel,
    EnqueueNotification,
    NotificationDetail,
    NotificationQuery,
    NotificationStatus,
    NotificationView,
    Outcome,
    RotatedSecret,
    UpdateChannel,
    address_problem,
    clip_error,
    literal_ip,
    redact_target,
    retry_delay,
    target_problem,
)
from chalicelib.logs import get_logger
from chalicelib.settings import Settings
from chalicelib.store.base import conditional_failed
from chalicelib.store.counters import IdAllocator, TimeOrderedIds
from chalicelib.store.cursors import scope_of
from chalicelib.store.notifications import (
    CHANNEL_KIND,
    NOTIFICATION_KIND,
    QUEUE_STATE_PENDING,
    AttemptMap,
    ChannelItem,
    ChannelNameMarker,
    OutboxItem,
    name_marker_key,
)
from chalicelib.store.pagination import query_page

CHANNEL_COUNTER = "notification_channels"
EARLY_TOLERANCE_SECONDS = 2
SWEEP_LIMIT = 200


def channel_view(item: ChannelItem) -> ChannelView:
    return ChannelView(
        id=int(item.id),
        name=item.name,
        channel_type=ChannelType(item.channel_type),
        target=item.target,
        active=bool(item.active),
        description=item.description,
        created_at=parse_iso(item.created_at),
        updated_at=parse_iso(item.updated_at),
        secret_rotated_at=parse_iso(item.secret_rotated_at) if item.secret_rotated_at else None,
    )


def _optional_time(value: str | None) -> Any:
    return parse_iso(value) if value else None


def notification_view(item: OutboxItem) -> NotificationView:
    return NotificationView(
        id=int(item.id),
        channel_id=int(item.channel_id),
        channel_type=ChannelType(item.channel_type),
        subject=item.subject,
        body=item.body,
        payload=item.payload,
        status=NotificationStatus(item.status),
        attempts=int(item.attempts or 0),
        last_error=item.last_error,
        created_at=parse_iso(item.created_at),
        updated_at=parse_iso(item.updated_at),
        sent_at=_optional_time(item.sent_at),
        next_attempt_at=_optional_time(item.next_attempt_at) if item.status == "pending" else None,
        provider_message_id=item.provider_message_id,
    )


def notification_detail(item: OutboxItem) -> NotificationDetail:
    history = [
        Attempt(
            number=int(entry.number),
            at=parse_iso(entry.at),
            outcome=Outcome(entry.outcome),
            duration_ms=float(entry.duration_ms),
            http_status=int(entry.http_status) if entry.http_status is not None else None,
            error=entry.error,
            provider_message_id=entry.provider_message_id,
            next_attempt_at=_optional_time(entry.next_attempt_at),
        )
        for entry in (item.history or [])
    ]
    return NotificationDetail(**notification_view(item).model_dump(), history=history)


@dataclass(frozen=True)
class DeliveryReport:
    """What one delivery attempt of one outbox item came to.

    ``outcome``: ``sent`` | ``retry`` | ``failed`` (an attempt was made), ``busy``
    (another worker holds the lease: try this message again in ``delay`` seconds) or
    ``skip`` (nothing to do for this message: done already, not due yet, unknown).
    """

    notification_id: int
    outcome: str
    delay: int | None = None
    attempts: int = 0
    channel_type: str | None = None
    error: str | None = None
    http_status: int | None = None
    channel_id: int | None = None
    latency_ms: float | None = None  # enqueue to sent, for the delivery analytics


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
        on_pending: Callable[[int, int], None] | None = None,
        secret_box: SecretBox | None = None,
        on_gave_up: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.on_gave_up = on_gave_up  # told when a notification fails for good (the notification.failed event)
        self.settings = settings
        self.clock = clock
        self.ids = ids
        self.notification_ids = notification_ids or TimeOrderedIds()
        # Told (channel id, notification id) when an item becomes pending: the backlog gauge.
        self.on_pending = on_pending
        self._sqs_factory = sqs
        self.registry = registry or Registry(settings)
        self._secret_box = secret_box
        self.rand = rand or random.Random()
        self.monotonic = monotonic
        self._queue_url: str | None = None

    # --- queue -------------------------------------------------------------

    @property
    def sqs(self) -> Any:
        if self._sqs_factory is not None:
            return self._sqs_factory()
        from chalicelib import aws

        return aws.client("sqs")

    @property
    def secret_box(self) -> SecretBox:
        """Signing secrets are sealed with KMS before they are stored (envelope encryption)."""
        if self._secret_box is None:
            from chalicelib import aws

            self._secret_box = SecretBox(lambda: aws.client("kms"), self.settings.signing_key_id)
        return self._secret_box

    @property
    def queue_url(self) -> str:
        if self._queue_url is None:
            name = self.settings.queue("notifications")
            self._queue_url = str(self.sqs.get_queue_url(QueueName=name)["QueueUrl"])
        return self._queue_url

    def _send_to_queue(self, notification_id: int) -> bool:
        """Ask for a delivery; a failure is logged and left to the sweeper."""
        try:
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps({"id": notification_id}))
        except Exception as exc:
            get_logger().warning(
                "notification enqueue: SQS send failed; the sweeper will re-enqueue it",
                extra={"notification_id": notification_id, "error": f"{type(exc).__name__}: {exc}"},
            )
            return False
        return True

    # --- channels ----------------------------------------------------------

    def _check_target(self, channel_type: ChannelType, target: str) -> None:
        allow_private = self.settings.allow_private_webhook_targets
        problem = target_problem(channel_type, target, allow_http=allow_private)
        if problem is None and channel_type is ChannelType.webhook and not allow_private:
            from urllib.parse import urlsplit

            host = (urlsplit(target).hostname or "").rstrip(".").lower()
            literal = literal_ip(host)
            if literal is not None:
                reason = address_problem(str(literal))
                if reason:
                    problem = f"Refused: {reason}."
            elif host == "localhost" or host.endswith(".localhost"):
                problem = "Refused: localhost is a loopback address."
        if problem:
            raise InvalidField("target", problem)

    def create_channel(self, request: CreateChannel) -> CreatedChannel:
        self._check_target(request.channel_type, request.target)
        now = isoformat(self.clock())
        secret = new_secret() if request.channel_type is ChannelType.webhook else None
        channel_id = self.ids.next_id(CHANNEL_COUNTER)
        item = ChannelItem(
            channel_id,
            kind=CHANNEL_KIND,
            name=request.name,
            channel_type=request.channel_type.value,
            target=request.target,
            active=request.active,
            active_state=str(request.active).lower(),
            description=request.description,
            created_at=now,
            updated_at=now,
            signing_secret=self.secret_box.seal(channel_id, secret) if secret else None,
        )
        marker = ChannelNameMarker(name_marker_key(request.name), channel_id=item.id)
        connection = Connection(region=self.settings.region, host=self.settings.aws_endpoint_url)
        try:
            with TransactWrite(connection=connection) as transaction:
                transaction.save(marker, condition=ChannelNameMarker.name.does_not_exist())
                transaction.save(item, condition=ChannelItem.id.does_not_exist())
        except TransactWriteError as exc:
            reasons = [reason for reason in (exc.cancellation_reasons or []) if reason is not None]
            if any(reason.code == "ConditionalCheckFailed" for reason in reasons):
                raise Conflict(f"A channel named {request.name!r} already exists.") from None
            raise
        return CreatedChannel(**channel_view(item).model_dump(), signing_secret=secret)

    def _channel_item(self, channel_id: int) -> ChannelItem:
        try:
            return ChannelItem.get(channel_id)
        except DoesNotExist:
            raise NotFound(f"Channel {channel_id} not found.") from None

    def get_channel(self, channel_id: int) -> ChannelView:
        return channel_view(self._channel_item(channel_id))

    def list_channels(self, query: ChannelQuery) -> tuple[list[ChannelView], str | None]:
        def run(**page: Any) -> Any:
            if query.channel_type is not None:
                condition = None if query.active is None else ChannelItem.active == query.active
                return ChannelItem.by_type.query(query.channel_type.value, filter_condition=condition, **page)
            if query.active is not None:
                return ChannelItem.by_active.query(str(query.active).lower(), **page)
            return ChannelItem.by_kind.query(CHANNEL_KIND, **page)

        return query_page(
            run,
            query.limit,
            query.cursor,
            channel_view,
            scope_of("channels", channel_type=query.channel_type, active=query.active),
        )

    def update_channel(self, channel_id: int, change: UpdateChannel) -> ChannelView:
        item = self._channel_item(channel_id)
        fields = change.model_fields_set
        actions: list[Any] = [ChannelItem.updated_at.set(isoformat(self.clock()))]
        if "target" in fields and change.target is not None:
            self._check_target(ChannelType(item.channel_type), change.target)
            actions.append(ChannelItem.target.set(change.target))
        if "active" in fields and change.active is not None:
            actions.append(ChannelItem.active.set(change.active))
            actions.append(ChannelItem.active_state.set(str(change.active).lower()))
        if "description" in fields:
            actions.append(
                ChannelItem.description.set(change.description)
                if change.description is not None
                else ChannelItem.description.remove()
            )
        item.update(actions=actions, condition=ChannelItem.id.exists())
        return channel_view(item)

    def rotate_secret(self, channel_id: int) -> RotatedSecret:
        item = self._channel_item(channel_id)
        if item.channel_type != ChannelType.webhook.value:
            raise Conflict(f"Channel {channel_id} is a {item.channel_type} channel; only webhooks have a secret.")
        now = self.clock()
        expires = now + timedelta(hours=PREVIOUS_SECRET_HOURS)
        secret = new_secret()
        item.update(
            actions=[
                ChannelItem.previous_secret.set(item.signing_secret),
                ChannelItem.previous_secret_expires_at.set(isoformat(expires)),
                ChannelItem.signing_secret.set(self.secret_box.seal(channel_id, secret)),
                ChannelItem.secret_rotated_at.set(isoformat(now)),
                ChannelItem.updated_at.set(isoformat(now)),
            ],
            condition=ChannelItem.signing_secret == item.signing_secret,
        )
        return RotatedSecret(id=channel_id, signing_secret=secret, previous_secret_expires_at=expires)

    def iter_channels(self) -> Iterator[ChannelItem]:
        """Every channel, by id, a page at a time (a query on ``by_kind``, never a Scan)."""
        yield from ChannelItem.by_kind.query(CHANNEL_KIND, page_size=100)

    def list_all_channels_redacted(self) -> list[dict[str, Any]]:
        """Every channel as a configuration snapshot shows it: no secret, no token in a URL."""
        rendered = []
        for item in self.iter_channels():
            view = channel_view(item).model_dump(mode="json")
            view["target"] = redact_target(ChannelType(item.channel_type), item.target)
            view["signing_secret"] = "[redacted]" if item.signing_secret else None
            rendered.append(view)
        return rendered

    # --- the outbox --------------------------------------------------------

    def enqueue(self, request: EnqueueNotification, principal: Principal) -> NotificationView:
        too_large = request.size_problem()
        if too_large:
            raise TooLarge(too_large)
        channel = self._channel_item(request.channel_id)
        if not channel.active:
            raise Conflict(f"Channel {channel.id} is inactive; activate it before sending to it.")
        now = isoformat(self.clock())
        item = OutboxItem(
            self.notification_ids.next_id(),
            kind=NOTIFICATION_KIND,
            status=NotificationStatus.pending.value,
            created_at=now,
            updated_at=now,
            channel_id=int(channel.id),
            channel_type=channel.channel_type,
            subject=request.subject,
            body=request.body,
            payload=request.payload,
            attempts=0,
            cycle_attempts=0,
            history=[],
            queue_state=QUEUE_STATE_PENDING,
            due_at=now,
            requested_by=principal.name,
        )
        item.save(condition=OutboxItem.id.does_not_exist())
        if self.on_pending:
            self.on_pending(int(channel.id), int(item.id))
        self._send_to_queue(int(item.id))
        return notification_view(item)

    def _outbox_item(self, notification_id: int) -> OutboxItem:
        try:
            return OutboxItem.get(notification_id)
        except DoesNotExist:
            raise NotFound(f"Notification {notification_id} not found.") from None

    def get_notification(self, notification_id: int) -> NotificationDetail:
        return notification_detail(self._outbox_item(notification_id))

    def list_notifications(self, query: NotificationQuery) -> tuple[list[NotificationView], str | None]:
        def run(**page: Any) -> Any:
            if query.channel_id is not None:
                condition = None if query.status is None else OutboxItem.status == query.status.value
                return OutboxItem.by_channel.query(
                    query.channel_id, filter_condition=condition, scan_index_forward=False, **page
                )
            if query.status is not None:
                return OutboxItem.by_status.query(query.status.value, scan_index_forward=False, **page)
            return OutboxItem.by_time.query(NOTIFICATION_KIND, scan_index_forward=False, **page)

        return query_page(
            run,
            query.limit,
            query.cursor,
            notification_view,
            scope_of("notifications", channel_id=query.channel_id, status=query.status),
        )

    def retry(self, notification_id: int) -> NotificationView:
        item = self._outbox_item(notification_id)
        if int(item.attempts or 0) >= MAX_TOTAL_ATTEMPTS:
            raise Conflict(f"Notification {notification_id} has had {int(item.attempts)} attempts; no more retries.")
        now = isoformat(self.clock())
        try:
            item.update(
                actions=[
                    OutboxItem.status.set(NotificationStatus.pending.value),
                    OutboxItem.cycle_attempts.set(0),
                    OutboxItem.queue_state.set(QUEUE_STATE_PENDING),
                    OutboxItem.due_at.set(now),
                    OutboxItem.updated_at.set(now),
                    OutboxItem.next_attempt_at.remove(),
                    OutboxItem.lease_owner.remove(),
                    OutboxItem.lease_until.remove(),
                ],
                condition=OutboxItem.status == NotificationStatus.failed.value,
            )
        except UpdateError as exc:
            if conditional_failed(exc):
                current = self._outbox_item(notification_id)
                raise Conflict(
                    f"Only a failed notification can be retried; notification {notification_id} is {current.status}."
                ) from None
            raise
        if self.on_pending:
            self.on_pending(int(item.channel_id), notification_id)
        self._send_to_queue(notification_id)
        return notification_view(item)

    def sweep(self) -> int:
        """Re-enqueue ``pending`` items whose message should have been handled a grace period ago."""
        now = self.clock()
        cutoff = isoformat(now - timedelta(seconds=self.settings.sweep_grace_seconds))
        stamp = isoformat(now)
        swept = 0
        overdue = OutboxItem.by_due.query(QUEUE_STATE_PENDING, OutboxItem.due_at < cutoff, limit=SWEEP_LIMIT)
        for key in overdue:
            item = OutboxItem(key.id)
            try:
                # Claim the re-enqueue: another sweeper (or a delivery) that moved due_at wins.
                item.update(
                    actions=[OutboxItem.due_at.set(stamp)],
                    condition=(OutboxItem.status == NotificationStatus.pending.value) & (OutboxItem.due_at < cutoff),
                )
            except UpdateError as exc:
                if conditional_failed(exc):
                    continue
                raise
            if self._send_to_queue(int(key.id)):
                swept += 1
        if swept:
            get_logger().info("notification sweep", extra={"re_enqueued": swept})
        return swept

    # --- delivery ----------------------------------------------------------

    def claim(self, notification_id: int, owner: str) -> OutboxItem | DeliveryReport:
        """Take the lease on a pending, due item (one UpdateItem), or say why not."""
        now = self.clock()
        stamp = isoformat(now)
        lease_until = isoformat(now + timedelta(seconds=self.settings.lease_seconds))
        due_limit = isoformat(now + timedelta(seconds=EARLY_TOLERANCE_SECONDS))
        item = OutboxItem(notification_id)
        condition = (
            (OutboxItem.status == NotificationStatus.pending.value)
            & (OutboxItem.lease_until.does_not_exist() | (OutboxItem.lease_until < stamp))
            & (OutboxItem.next_attempt_at.does_not_exist() | (OutboxItem.next_attempt_at <= due_limit))
        )
        try:
            item.update(
                actions=[
                    OutboxItem.lease_owner.set(owner),
                    OutboxItem.lease_until.set(lease_until),
                    OutboxItem.due_at.set(lease_until),
                ],
                condition=condition,
            )
        except UpdateError as exc:
            if not conditional_failed(exc):
                raise
            return self._why_not_claimed(notification_id, stamp)
        return item

    def _why_not_claimed(self, notification_id: int, stamp: str) -> DeliveryReport:
        try:
            current = OutboxItem.get(notification_id, consistent_read=True)
        except DoesNotExist:
            return DeliveryReport(notification_id, "skip", error="unknown notification")
        if current.status != NotificationStatus.pending.value:
            return DeliveryReport(notification_id, "skip", error=f"already {current.status}")
        if current.lease_until and current.lease_until >= stamp:
            remaining = (parse_iso(current.lease_until) - parse_iso(stamp)).total_seconds()
            return DeliveryReport(notification_id, "busy", delay=max(1, int(remaining) + 1), error="lease held")
        # Not due yet: a duplicate message. The item's own message (or the sweeper) brings it back.
        return DeliveryReport(notification_id, "skip", error="not due yet")

    def _channel_config(self, item: OutboxItem) -> ChannelConfig | DeliveryFailed:
        try:
            channel = ChannelItem.get(int(item.channel_id))
        except DoesNotExist:
            return DeliveryFailed(f"Channel {int(item.channel_id)} no longer exists.", permanent=True)
        if not channel.active:
            return DeliveryFailed(f"Channel {int(channel.id)} is inactive.", permanent=True)
        secrets_in_use: list[str] = []
        try:
            if channel.signing_secret:
                secrets_in_use.append(self.secret_box.open(int(channel.id), channel.signing_secret))
            if channel.previous_secret:
                expires = channel.previous_secret_expires_at
                if expires and expires > isoformat(self.clock()):
                    secrets_in_use.append(self.secret_box.open(int(channel.id), channel.previous_secret))
                else:
                    self._forget_previous_secret(channel)
        except SecretBoxError as exc:
            return DeliveryFailed(f"The channel's signing secret cannot be read: {exc}", permanent=False)
        return ChannelConfig(
            id=int(channel.id),
            name=channel.name,
            channel_type=channel.channel_type,
            target=channel.target,
            signing_secrets=tuple(secrets_in_use),
        )

    def _forget_previous_secret(self, channel: ChannelItem) -> None:
        """The overlap after a rotation is over: the previous secret is deleted, not just unused."""
        try:
            channel.update(
                actions=[ChannelItem.previous_secret.remove(), ChannelItem.previous_secret_expires_at.remove()],
                condition=ChannelItem.previous_secret == channel.previous_secret,
            )
        except UpdateError as exc:
            if not conditional_failed(exc):
                raise
            # A rotation replaced it meanwhile: nothing left to forget.

    def message_id(self, notification_id: int) -> str:
        """The stable ``webhook-id`` of a notification: the same on every attempt."""
        return f"msg_{self.settings.stage}_{notification_id}"

    def deliver(self, notification_id: int, owner: str | None = None) -> DeliveryReport:
        """Claim, send through the channel's driver, and record the outcome."""
        owner = owner or secrets.token_hex(8)
        claimed = self.claim(notification_id, owner)
        if isinstance(claimed, DeliveryReport):
            return claimed
        item = claimed
        config = self._channel_config(item)
        started = self.monotonic()
        result: Delivered | DeliveryFailed
        if isinstance(config, DeliveryFailed):
            result = config
        else:
            message = OutgoingMessage(
                id=int(item.id),
                message_id=item.event_id or self.message_id(int(item.id)),
                subject=item.subject,
                body=item.body,
                payload=item.payload,
                created_at=item.created_at,
                event=item.payload if item.event_id else None,
            )
            try:
                result = self.registry.driver(item.channel_type).send(config, message)
            except DeliveryFailed as failure:
                result = failure
            except Exception as exc:  # a driver bug must not lose the item: retry it
                result = DeliveryFailed(f"{type(exc).__name__}: {exc}", permanent=False)
        duration_ms = round((self.monotonic() - started) * 1000, 1)
        return self._record(item, owner, result, duration_ms)

    def _record(
        self, item: OutboxItem, owner: str, result: Delivered | DeliveryFailed, duration_ms: float
    ) -> DeliveryReport:
        now = self.clock()
        stamp = isoformat(now)
        number = int(item.attempts or 0) + 1
        cycle = int(item.cycle_attempts or 0) + 1
        entry = AttemptMap(number=number, at=stamp, duration_ms=duration_ms)
        actions: list[Any] = [
            OutboxItem.attempts.add(1),
            OutboxItem.cycle_attempts.add(1),
            OutboxItem.updated_at.set(stamp),
            OutboxItem.lease_owner.remove(),
            OutboxItem.lease_until.remove(),
        ]
        delay: int | None = None
        if isinstance(result, Delivered):
            outcome = Outcome.sent
            entry.http_status = result.http_status
            entry.provider_message_id = result.provider_message_id
            actions += [
                OutboxItem.status.set(NotificationStatus.sent.value),
                OutboxItem.sent_at.set(stamp),
                OutboxItem.last_error.remove(),  # earlier errors stay in the history
                OutboxItem.queue_state.remove(),
                OutboxItem.due_at.remove(),
                OutboxItem.next_attempt_at.remove(),
            ]
            if result.provider_message_id:
                actions.append(OutboxItem.provider_message_id.set(result.provider_message_id))
        else:
            error = clip_error(result.error)
            entry.error = error
            entry.http_status = result.http_status
            actions.append(OutboxItem.last_error.set(error))
            delay = (
                None
                if result.permanent
                else retry_delay(cycle, self.settings.retry_schedule, result.retry_after, self.rand)
            )
            if delay is None:
                outcome = Outcome.failed
                actions += [
                    OutboxItem.status.set(NotificationStatus.failed.value),
                    OutboxItem.queue_state.remove(),
                    OutboxItem.due_at.remove(),
                    OutboxItem.next_attempt_at.remove(),
                ]
            else:
                outcome = Outcome.retry
                next_at = isoformat(now + timedelta(seconds=delay))
                entry.next_attempt_at = next_at
                actions += [OutboxItem.next_attempt_at.set(next_at), OutboxItem.due_at.set(next_at)]
        entry.outcome = outcome.value
        actions.append(OutboxItem.history.set(OutboxItem.history.append([entry])))
        try:
            item.update(actions=actions, condition=OutboxItem.lease_owner == owner)
        except UpdateError as exc:
            if not conditional_failed(exc):
                raise
            # The lease ran out and another worker took the item over: its record wins.
            get_logger().warning(
                "notification outcome not recorded: lease lost", extra={"notification_id": int(item.id)}
            )
        else:
            # No loops: a notification carrying an event never announces its own failure.
            if outcome is Outcome.failed and self.on_gave_up is not None and not item.event_id:
                self.on_gave_up(notification_view(item).model_dump(mode="json") | {"attempts": number})
        return DeliveryReport(
            int(item.id),
            outcome.value,
            delay=delay,
            attempts=number,
            channel_type=item.channel_type,
            error=entry.error,
            http_status=result.http_status,
            channel_id=int(item.channel_id),
            latency_ms=(now - parse_iso(item.created_at)).total_seconds() * 1000 if outcome is Outcome.sent else None,
        )
