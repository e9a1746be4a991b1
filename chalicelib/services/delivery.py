"""Delivering one notification: claim it, send it through its channel's driver, record the outcome.

A worker *claims* an item with a conditional update (a lease) before sending, so a
duplicate message does not send twice while the lease holds, and writes the outcome
on the condition that it still holds the lease. Two writes per attempt, both on the
small state item; what comes next is :func:`chalicelib.domain.delivery.decide`.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.channels.base import Delivered, DeliveryFailed, OutgoingMessage
from chalicelib.channels.registry import Registry
from chalicelib.clock import Clock, isoformat, parse_iso
from chalicelib.domain.delivery import DeliveryOutcome, decide
from chalicelib.domain.notifications import NotificationStatus, Outcome, clip_error
from chalicelib.logs import get_logger
from chalicelib.services.channels import Channels
from chalicelib.settings import Settings
from chalicelib.store.notifications import AttemptMap, OutboxItem
from chalicelib.store.outbox import OutboxRepo

if TYPE_CHECKING:
    from chalicelib.services.guard import DeliveryGuard, Gate

EARLY_TOLERANCE_SECONDS = 2


@dataclass(frozen=True)
class DeliveryReport:
    """What one delivery attempt of one outbox item came to.

    ``outcome``: a :class:`~chalicelib.domain.delivery.DeliveryOutcome`; ``delay`` is the
    seconds until the message comes back (``retry``, ``busy``, ``deferred``).
    """

    notification_id: int
    outcome: DeliveryOutcome
    delay: int | None = None
    attempts: int = 0
    channel_type: str | None = None
    error: str | None = None
    http_status: int | None = None
    channel_id: int | None = None
    latency_ms: float | None = None  # enqueue to sent, for the delivery analytics


class Delivery:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        channels: Channels,
        registry: Registry,
        rand: random.Random | None = None,
        monotonic: Callable[[], float] = time.perf_counter,
        repo: OutboxRepo | None = None,
        on_gave_up: Callable[[dict[str, Any]], None] | None = None,
        guard: DeliveryGuard | None = None,
    ) -> None:
        self.guard = guard  # channel health and rate limits (None: every delivery goes)
        self.on_gave_up = on_gave_up  # told when a notification fails for good (the notification.failed event)
        self.settings = settings
        self.clock = clock
        self.channels = channels
        self.registry = registry
        self.rand = rand or random.Random()
        self.monotonic = monotonic
        self.repo = repo or OutboxRepo()

    def message_id(self, notification_id: int) -> str:
        """The stable ``webhook-id`` of a notification: the same on every attempt."""
        return f"msg_{self.settings.stage}_{notification_id}"

    def claim(self, notification_id: int, owner: str) -> OutboxItem | DeliveryReport:
        """Take the lease on a pending, due item (one UpdateItem), or say why not."""
        now = self.clock()
        stamp = isoformat(now)
        lease_until = isoformat(now + timedelta(seconds=self.settings.lease_seconds))
        due_limit = isoformat(now + timedelta(seconds=EARLY_TOLERANCE_SECONDS))
        item = self.repo.claim(notification_id, owner, stamp, lease_until, due_limit)
        return item if item is not None else self._why_not_claimed(notification_id, stamp)

    def _why_not_claimed(self, notification_id: int, stamp: str) -> DeliveryReport:
        current = self.repo.state(notification_id, consistent=True)
        if current is None:
            return DeliveryReport(notification_id, DeliveryOutcome.skip, error="unknown notification")
        if current.status != NotificationStatus.pending.value:
            return DeliveryReport(notification_id, DeliveryOutcome.skip, error=f"already {current.status}")
        if current.lease_until and current.lease_until >= stamp:
            remaining = (parse_iso(current.lease_until) - parse_iso(stamp)).total_seconds()
            return DeliveryReport(
                notification_id, DeliveryOutcome.busy, delay=max(1, int(remaining) + 1), error="lease held"
            )
        # Not due yet: a duplicate message. The item's own message (or the sweeper) brings it back.
        return DeliveryReport(notification_id, DeliveryOutcome.skip, error="not due yet")

    def deliver(self, notification_id: int, owner: str | None = None) -> DeliveryReport:
        """Claim, send through the channel's driver, and record the outcome."""
        owner = owner or secrets.token_hex(8)
        claimed = self.claim(notification_id, owner)
        if isinstance(claimed, DeliveryReport):
            return claimed
        item = claimed
        config = self.channels.delivery_config(int(item.channel_id))
        gate: Gate | None = None
        if self.guard is not None and not isinstance(config, DeliveryFailed):
            gate = self.guard.admit(config.id, config.rate_limit_per_second)
            if gate.kind == "defer":
                return self._defer(item, owner, gate)
        started = self.monotonic()
        result: Delivered | DeliveryFailed
        content = None if isinstance(config, DeliveryFailed) else self.repo.content(int(item.id))
        if isinstance(config, DeliveryFailed):
            result = config
        elif content is None:  # an item the layout migration has not reached yet: later
            result = DeliveryFailed("The notification's content is not available yet.", permanent=False)
        else:
            message = OutgoingMessage(
                id=int(item.id),
                message_id=item.event_id or self.message_id(int(item.id)),
                subject=content.subject,
                body=content.body,
                payload=content.payload,
                created_at=item.created_at,
                event=content.payload if item.event_id else None,
            )
            try:
                result = self.registry.driver(item.channel_type).send(config, message)
            except DeliveryFailed as failure:
                result = failure
            except Exception as exc:  # a driver bug must not lose the item: retry it
                result = DeliveryFailed(f"{type(exc).__name__}: {exc}", permanent=False)
        duration_ms = round((self.monotonic() - started) * 1000, 1)
        report = self._record(item, owner, result, duration_ms)
        if gate is not None and self.guard is not None:
            self.guard.observe(int(item.channel_id), gate, result)
        return report

    def _defer(self, item: OutboxItem, owner: str, gate: Gate) -> DeliveryReport:
        """Give the item back unattempted: its message returns after ``gate.delay`` seconds."""
        self.repo.release(item, owner, isoformat(self.clock() + timedelta(seconds=gate.delay)))
        return DeliveryReport(
            int(item.id),
            DeliveryOutcome.deferred,
            delay=gate.delay,
            attempts=int(item.attempts or 0),
            channel_type=item.channel_type,
            error=gate.reason,
            channel_id=int(item.channel_id),
        )

    def _record(
        self, item: OutboxItem, owner: str, result: Delivered | DeliveryFailed, duration_ms: float
    ) -> DeliveryReport:
        now = self.clock()
        stamp = isoformat(now)
        number = int(item.attempts or 0) + 1
        cycle = int(item.cycle_attempts or 0) + 1
        delivered = isinstance(result, Delivered)
        decision = decide(
            delivered,
            not delivered and result.permanent,  # type: ignore[union-attr]
            cycle,
            self.settings.retry_schedule,
            None if delivered else result.retry_after,  # type: ignore[union-attr]
            self.rand,
        )
        entry = AttemptMap(number=number, at=stamp, duration_ms=duration_ms, outcome=decision.outcome.value)
        entry.http_status = result.http_status
        changes: dict[str, str | None] = {"updated_at": stamp}
        if isinstance(result, Delivered):
            entry.provider_message_id = result.provider_message_id
            changes.update(sent_at=stamp, last_error=None, due_at=None, next_attempt_at=None)
            if result.provider_message_id:
                changes["provider_message_id"] = result.provider_message_id
        else:
            entry.error = clip_error(result.error)
            changes["last_error"] = entry.error
            if decision.outcome is Outcome.retry:
                next_at = isoformat(now + timedelta(seconds=decision.delay or 0))
                entry.next_attempt_at = next_at
                changes.update(next_attempt_at=next_at, due_at=next_at)
            else:
                changes.update(due_at=None, next_attempt_at=None)
        status = {
            Outcome.sent: NotificationStatus.sent,
            Outcome.failed: NotificationStatus.failed,
            Outcome.retry: NotificationStatus.pending,
        }[decision.outcome].value
        if not self.repo.record_attempt(item, owner, entry, status, changes):
            # The lease ran out and another worker took the item over: its record wins.
            get_logger().warning(
                "notification outcome not recorded: lease lost", extra={"notification_id": int(item.id)}
            )
        elif decision.outcome is Outcome.failed and self.on_gave_up is not None and not item.event_id:
            # No loops: a notification carrying an event never announces its own failure.
            self.on_gave_up(
                {
                    "id": int(item.id),
                    "channel_id": int(item.channel_id),
                    "channel_type": item.channel_type,
                    "attempts": number,
                    "last_error": entry.error,
                }
            )
        return DeliveryReport(
            int(item.id),
            DeliveryOutcome(decision.outcome.value),
            delay=decision.delay,
            attempts=number,
            channel_type=item.channel_type,
            error=entry.error,
            http_status=result.http_status,
            channel_id=int(item.channel_id),
            latency_ms=(now - parse_iso(item.created_at)).total_seconds() * 1000
            if decision.outcome is Outcome.sent
            else None,
        )
