"""The outbox: accept a notification, show it, retry it, sweep what was left behind.

An accepted notification is written as ``pending`` before anything else happens to
it; the SQS message that follows only says "look at item N". Whatever fails after
the write (the SQS send, a worker, a provider) leaves the item ``pending`` with a
``due_at``, and the sweeper re-enqueues items left past it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from chalicelib.clock import Clock, isoformat, parse_iso
from chalicelib.domain.common import Principal
from chalicelib.domain.errors import Conflict, NotFound, TooLarge
from chalicelib.domain.jsonsafe import safe_dump
from chalicelib.domain.notifications import (
    MAX_TOTAL_ATTEMPTS,
    Attempt,
    ChannelType,
    EnqueueNotification,
    NotificationDetail,
    NotificationQuery,
    NotificationStatus,
    NotificationView,
    Outcome,
)
from chalicelib.logs import get_logger
from chalicelib.services.channels import Channels
from chalicelib.services.idempotency import Idempotency
from chalicelib.settings import Settings
from chalicelib.store.counters import TimeOrderedIds
from chalicelib.store.cursors import scope_of
from chalicelib.store.notifications import AttemptMap, ContentItem, OutboxItem
from chalicelib.store.outbox import OutboxRepo, Stored
from chalicelib.store.pagination import decode_cursor, encode_cursor

SWEEP_LIMIT = 200
IDEMPOTENCY_SCOPE = "notify.enqueue"  # part of every stored key: never change it


def _optional_time(value: str | None) -> Any:
    return parse_iso(value) if value else None


def notification_view(stored: Stored) -> NotificationView:
    state, content = stored.state, stored.content
    return NotificationView(
        id=int(state.id),
        channel_id=int(state.channel_id),
        channel_type=ChannelType(state.channel_type),
        subject=content.subject if content and content.subject is not None else "",
        body=content.body if content and content.body is not None else "",
        payload=content.payload if content else None,
        status=NotificationStatus(state.status),
        attempts=int(state.attempts or 0),
        last_error=state.last_error,
        created_at=parse_iso(state.created_at),
        updated_at=parse_iso(state.updated_at),
        sent_at=_optional_time(state.sent_at),
        next_attempt_at=_optional_time(state.next_attempt_at) if state.status == "pending" else None,
        provider_message_id=state.provider_message_id,
    )


def _attempt(entry: AttemptMap) -> Attempt:
    return Attempt(
        number=int(entry.number),
        at=parse_iso(entry.at),
        outcome=Outcome(entry.outcome),
        duration_ms=float(entry.duration_ms),
        http_status=int(entry.http_status) if entry.http_status is not None else None,
        error=entry.error,
        provider_message_id=entry.provider_message_id,
        next_attempt_at=_optional_time(entry.next_attempt_at),
    )


class Queue:
    """The notifications queue: "look at item N" messages."""

    def __init__(self, settings: Settings, sqs: Callable[[], Any] | None = None) -> None:
        self.settings = settings
        self._sqs_factory = sqs
        self._url: str | None = None

    @property
    def sqs(self) -> Any:
        if self._sqs_factory is not None:
            return self._sqs_factory()
        from chalicelib import aws

        return aws.client("sqs")

    @property
    def url(self) -> str:
        if self._url is None:
            name = self.settings.queue("notifications")
            self._url = str(self.sqs.get_queue_url(QueueName=name)["QueueUrl"])
        return self._url

    def send(self, notification_id: int) -> bool:
        """Ask for a delivery; a failure is logged and left to the sweeper."""
        try:
            self.sqs.send_message(QueueUrl=self.url, MessageBody=json.dumps({"id": notification_id}))
        except Exception as exc:
            get_logger().warning(
                "notification enqueue: SQS send failed; the sweeper will re-enqueue it",
                extra={"notification_id": notification_id, "error": f"{type(exc).__name__}: {exc}"},
            )
            return False
        return True


class Outbox:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        channels: Channels,
        queue: Queue,
        ids: TimeOrderedIds | None = None,
        repo: OutboxRepo | None = None,
        idempotency: Idempotency | None = None,
    ) -> None:
        self.settings = settings
        self.idempotency = idempotency or Idempotency(
            clock, settings.idempotency_ttl_seconds, settings.idempotency_in_progress_seconds
        )
        self.clock = clock
        self.channels = channels
        self.queue = queue
        self.ids = ids or TimeOrderedIds()
        self.repo = repo or OutboxRepo()

    def enqueue_once(
        self,
        request: EnqueueNotification,
        principal: Principal,
        idempotency_key: str | None,
        raw_body: bytes,
        on_created: Callable[[NotificationView], None] | None = None,
    ) -> dict[str, Any]:
        """Enqueue, and answer as JSON; a repeat with the same ``idempotency_key`` gets the
        first answer and writes and sends nothing (``on_created`` runs only for a
        notification really created). Once the write may have happened the key is never
        released, even if building the answer fails: a retry must not send twice.
        """

        def make() -> tuple[int, Any]:
            view = self.enqueue(request, principal)
            if on_created is not None:
                on_created(view)
            return 201, safe_dump(view)

        _status, answer = self.idempotency.run(IDEMPOTENCY_SCOPE, principal, idempotency_key, raw_body, make)
        return answer  # type: ignore[no-any-return]

    def enqueue(self, request: EnqueueNotification, principal: Principal) -> NotificationView:
        too_large = request.size_problem()
        if too_large:
            raise TooLarge(too_large)
        channel = self.channels.cached(request.channel_id)
        if not channel.active:
            raise Conflict(f"Channel {channel.id} is inactive; activate it before sending to it.")
        now = isoformat(self.clock())
        notification_id = self.ids.next_id()
        state = OutboxItem(
            notification_id,
            status=NotificationStatus.pending.value,
            created_at=now,
            updated_at=now,
            channel_id=int(channel.id),
            channel_type=channel.channel_type,
            attempts=0,
            cycle_attempts=0,
            due_at=now,
            requested_by=principal.name,
        )
        content = ContentItem(notification_id, subject=request.subject, body=request.body, payload=request.payload)
        self.repo.put(state, content)
        self.queue.send(notification_id)
        return notification_view(Stored(state, content))

    def stored(self, notification_id: int) -> Stored:
        stored = self.repo.get(notification_id)
        if stored is None:
            raise NotFound(f"Notification {notification_id} not found.")
        return stored

    def get(self, notification_id: int) -> NotificationDetail:
        stored = self.stored(notification_id)
        history = [_attempt(entry) for entry in stored.state.history or []]
        return NotificationDetail(**notification_view(stored).model_dump(), history=history)

    def page(self, query: NotificationQuery) -> tuple[list[NotificationView], str | None]:
        status = query.status.value if query.status is not None else None
        scope = scope_of("notifications", channel_id=query.channel_id, status=query.status)
        position = decode_cursor(query.cursor, scope)
        after = position.get("after") if position else None
        if position is not None and not (isinstance(after, list) and len(after) == 2):
            after = None
        rows, stopped = self.repo.page(status, query.channel_id, query.limit, after)
        return [notification_view(row) for row in rows], encode_cursor({"after": stopped} if stopped else None, scope)

    def retry(self, notification_id: int) -> NotificationView:
        stored = self.stored(notification_id)
        if int(stored.state.attempts or 0) >= MAX_TOTAL_ATTEMPTS:
            raise Conflict(
                f"Notification {notification_id} has had {int(stored.state.attempts)} attempts; no more retries."
            )
        state = self.repo.restart(notification_id, isoformat(self.clock()))
        if state is None:
            current = self.stored(notification_id).state
            raise Conflict(
                f"Only a failed notification can be retried; notification {notification_id} is {current.status}."
            )
        self.queue.send(notification_id)
        return notification_view(Stored(state, stored.content))

    def sweep(self) -> int:
        """Re-enqueue ``pending`` items whose message should have been handled a grace period ago."""
        now = self.clock()
        cutoff = isoformat(now - timedelta(seconds=self.settings.sweep_grace_seconds))
        stamp = isoformat(now)
        swept = 0
        for notification_id in list(self.repo.overdue(cutoff, SWEEP_LIMIT)):
            # Claim the re-enqueue: another sweeper (or a delivery) that moved due_at wins.
            if self.repo.take_overdue(notification_id, stamp, cutoff) and self.queue.send(notification_id):
                swept += 1
        if swept:
            get_logger().info("notification sweep", extra={"re_enqueued": swept})
        return swept
