"""Outbox notifications that carry an event: written with an id chosen before, at most once."""

from __future__ import annotations

from typing import Any

from chalicelib.store.notifications import ContentItem, OutboxItem
from chalicelib.store.outbox import OutboxRepo


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
    state = OutboxItem(
        notification_id,
        status="pending",
        created_at=now,
        updated_at=now,
        channel_id=channel_id,
        channel_type=channel_type,
        event_id=event["id"],
        attempts=0,
        cycle_attempts=0,
        due_at=now,
        requested_by="events",
    )
    content = ContentItem(notification_id, subject=subject, body=body, payload=event)
    return OutboxRepo().put_once(state, content)
