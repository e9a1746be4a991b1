"""Outbox notifications that carry an event: written with an id chosen before, at most once."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import PutError

from chalicelib.store.base import conditional_failed
from chalicelib.store.notifications import NOTIFICATION_KIND, QUEUE_STATE_PENDING, OutboxItem


def put_event_notification(
    notification_id: int,
    channel_id: int,
    channel_type: str,
    subject: str,
    body: str,
    event: dict[str, Any],
    now: str,
) -> bool:
    """Write the pending notification; ``False`` if one with this id exists (written by an earlier try)."""
    item = OutboxItem(
        notification_id,
        kind=NOTIFICATION_KIND,
        status="pending",
        created_at=now,
        updated_at=now,
        channel_id=channel_id,
        channel_type=channel_type,
        subject=subject,
        body=body,
        payload=event,
        event_id=event["id"],
        attempts=0,
        cycle_attempts=0,
        history=[],
        queue_state=QUEUE_STATE_PENDING,
        due_at=now,
        requested_by="events",
    )
    try:
        item.save(condition=OutboxItem.id.does_not_exist())
    except PutError as exc:
        if conditional_failed(exc):
            return False
        raise
    return True
