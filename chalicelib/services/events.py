"""Emitting system events and fanning them out to subscribed channels through the outbox.

``emit`` writes the event with the targets it will go to (one per matching
subscription and channel) and a ``due_at``, then for each target writes a fan-out
marker (the notification id, chosen once) and the outbox notification with that id,
then marks the fan-out done. A crash or a throttled write anywhere in between leaves
the event ``pending`` past its ``due_at``; :meth:`EventBus.sweep` runs the same
fan-out again, and the markers make it write no notification twice.

Emitting never raises and never blocks the action that caused it: a failure is
logged and left to the sweeper.

Other code emits with :func:`chalicelib.services.emitting.emit`::

    from chalicelib.services.emitting import emit
    emit("channel.disabled", {"channel_id": 3, "reason": "..."}, key="channel:3:disabled:<when>")
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from chalicelib.clock import Clock, isoformat
from chalicelib.domain.errors import NotFound
from chalicelib.domain.events import EVENT_TYPES, envelope, human_message, new_event_id, normalise_data
from chalicelib.logs import get_logger
from chalicelib.services.event_subscriptions import SubscriptionCache
from chalicelib.store.event_outbox import put_event_notification
from chalicelib.store.events import EventItem, EventLog

SWEEP_LIMIT = 100
DEFER_SECONDS = 30


def stored_envelope(item: EventItem) -> dict[str, Any]:
    return {"id": item.id, "type": item.type, "time": item.time, "data": item.data}


class EventBus:
    def __init__(
        self,
        log: EventLog,
        subscriptions: SubscriptionCache,
        clock: Clock,
        notifications: Callable[[], Any],
        sweep_grace_seconds: int = 120,
    ) -> None:
        self.log = log
        self.subscriptions = subscriptions
        self.clock = clock
        self._notifications = notifications
        self.sweep_grace_seconds = sweep_grace_seconds

    # --- emitting ----------------------------------------------------------

    def emit(self, event_type: str, data: dict[str, Any] | BaseModel, *, key: str | None = None) -> str | None:
        logger = get_logger()
        try:
            payload = normalise_data(event_type, data)
        except Exception:
            logger.exception("event not emitted: its data does not fit its type", extra={"event_type": event_type})
            return None
        now = self.clock()
        event = envelope(new_event_id(key, now.timestamp()), event_type, now, payload)
        try:
            targets = self.subscriptions.targets_for(event)
            if not self.log.put_new(event, targets, isoformat(now)):
                return str(event["id"])  # the same fact was emitted before
        except Exception:
            logger.warning("event not recorded; deferred through the queue", extra={"event_id": event["id"]})
            self._defer(event)
            return str(event["id"])
        self._fan_out_safely(event, 0, targets)
        return str(event["id"])

    def _defer(self, event: dict[str, Any]) -> None:
        """The event table refused the event: hand it to the notifications queue, to be recorded later."""
        try:
            notifications = self._notifications()
            body = json.dumps({"event": event}, separators=(",", ":"))
            notifications.sqs.send_message(
                QueueUrl=notifications.queue_url, MessageBody=body, DelaySeconds=DEFER_SECONDS
            )
        except Exception:
            get_logger().exception("event lost: neither recorded nor deferred", extra={"event": event})

    def record_deferred(self, event: dict[str, Any]) -> None:
        """Record and fan out an event that :meth:`_defer` queued; raises if it still cannot be recorded."""
        targets = self.subscriptions.targets_for(event)
        if self.log.put_new(event, targets, isoformat(self.clock())):
            self._fan_out_safely(event, 0, targets)

    def _fan_out_safely(self, event: dict[str, Any], generation: int, targets: list[str]) -> list[int]:
        try:
            return self.fan_out(event, generation, targets)
        except Exception:
            get_logger().warning(
                "event fan-out incomplete; the sweeper finishes it", extra={"event_id": event["id"]}, exc_info=True
            )
            return []

    def fan_out(self, event: dict[str, Any], generation: int, targets: list[str]) -> list[int]:
        """One outbox notification per target, at most once each; returns their ids."""
        notifications = self._notifications()
        subject, body = human_message(event)
        made: list[int] = []
        for target in targets:
            subscription_id, channel_id = (int(part) for part in target.split("#"))
            try:
                channel = notifications.get_channel(channel_id)
            except NotFound:
                continue  # the channel was deleted since the subscription named it
            if not channel.active:
                continue
            candidate = notifications.outbox.ids.next_id()
            notification_id = self.log.claim_target(event["id"], generation, subscription_id, channel_id, candidate)
            now = isoformat(self.clock())
            kind = channel.channel_type.value
            if put_event_notification(notification_id, channel_id, kind, subject, body, event, now):
                # A failed send leaves the notification pending: the outbox sweeper re-enqueues it.
                notifications.queue.send(notification_id)
            made.append(notification_id)
        self.log.complete(event["id"], generation, made)
        return made

    # --- the API's operations ------------------------------------------------

    def get(self, event_id: str) -> EventItem:
        item = self.log.get(event_id, consistent=True)
        if item is None:
            raise NotFound(f"Event {event_id} not found.")
        return item

    def resend(self, event_id: str) -> tuple[str, list[int]]:
        """Fan the event out again to the subscriptions that want it today."""
        event = stored_envelope(self.get(event_id))
        targets = self.subscriptions.targets_for(event)
        generation = self.log.start_resend(event_id, targets, isoformat(self.clock()))
        return event_id, self.fan_out(event, generation, targets)

    def send_test(self, subscription_id: int, channel_ids: tuple[int, ...], event_type: str) -> tuple[str, list[int]]:
        """An example event of ``event_type`` to one subscription's channels (its filter not applied)."""
        now = self.clock()
        event = envelope(new_event_id(None, now.timestamp()), event_type, now, EVENT_TYPES[event_type].example)
        targets = [f"{subscription_id}#{channel}" for channel in channel_ids]
        self.log.put_new(event, targets, isoformat(now))
        return str(event["id"]), self.fan_out(event, 0, targets)

    # --- the sweeper ---------------------------------------------------------

    def sweep(self) -> int:
        """Finish fan-outs left incomplete past the grace period; returns how many were finished."""
        now = self.clock()
        cutoff = isoformat(now - timedelta(seconds=self.sweep_grace_seconds))
        finished = 0
        for event_id in list(self.log.overdue(cutoff, SWEEP_LIMIT)):
            item = self.log.get(event_id, consistent=True)
            if item is None or not item.fanout_state:
                continue
            generation = int(item.generation or 0)
            if not self.log.postpone(event_id, generation, isoformat(now), cutoff):
                continue  # another sweeper took it
            self._fan_out_safely(stored_envelope(item), generation, list(item.targets or []))
            finished += 1
        if finished:
            get_logger().info("event fan-out sweep", extra={"finished": finished})
        return finished
