"""The system's own events: their types, the JSON Schema of each type's data, the envelope.

An event travels as ``{"id": "evt_...", "type": ..., "time": ..., "data": {...}}``: the
payload of the outbox notifications it fans out to, and the body of a webhook delivery.
Nothing here talks to AWS or HTTP.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.clock import isoformat
from chalicelib.domain.disclosure import public_error
from chalicelib.domain.schema import Schema

EVENT_ID_PREFIX = "evt_"


class EventData(Schema):
    model_config = ConfigDict(extra="allow")


class ExportFinished(EventData):
    job_id: int
    job_type: str
    format: str
    status: str = Field(description="completed | failed")
    row_count: int | None = None
    bytes: int | None = None
    error: str | None = None


class PurgeCategory(Schema):
    category: str
    matched: int = 0
    deleted: int = 0


class PurgeFinished(EventData):
    run_id: int
    dry_run: bool
    status: str
    categories: list[PurgeCategory] = Field(default_factory=list)
    error: str | None = None


class MaintenanceChanged(EventData):
    mode: str
    previous_mode: str | None = None
    reason: str | None = None
    ends_at: str | None = None
    who: str | None = Field(default=None, description="The API key's name, or 'system' when ends_at passed.")


class NotificationFailed(EventData):
    notification_id: int
    channel_id: int
    channel_type: str
    attempts: int
    last_error: str | None = None


class ChannelHealth(EventData):
    channel_id: int
    channel_name: str | None = None
    channel_type: str | None = None
    reason: str | None = None


class KeyChanged(EventData):
    key_id: int
    name: str
    role: str
    who: str | None = None


@dataclass(frozen=True)
class EventType:
    name: str
    description: str
    data: type[EventData]
    example: dict[str, Any]

    def schema_document(self) -> dict[str, Any]:
        return self.data.model_json_schema()


def _type(name: str, description: str, data: type[EventData], example: dict[str, Any]) -> EventType:
    return EventType(name=name, description=description, data=data, example=example)


_EXPORT_EXAMPLE = {"job_id": 1, "job_type": "audit_log_export", "format": "jsonl", "status": "completed"}
_PURGE_EXAMPLE = {"run_id": 1, "dry_run": False, "status": "completed", "categories": []}

EVENT_TYPES: dict[str, EventType] = {
    t.name: t
    for t in (
        _type(
            "export.completed",
            "An export job finished and its file is in S3.",
            ExportFinished,
            {**_EXPORT_EXAMPLE, "row_count": 42, "bytes": 1024},
        ),
        _type(
            "export.failed",
            "An export job failed or was cancelled.",
            ExportFinished,
            {**_EXPORT_EXAMPLE, "status": "failed", "error": "example"},
        ),
        _type(
            "retention.purge.completed",
            "A retention purge run finished.",
            PurgeFinished,
            {**_PURGE_EXAMPLE, "categories": [{"category": "audit_log", "matched": 3, "deleted": 3}]},
        ),
        _type(
            "retention.purge.failed",
            "A retention purge run failed.",
            PurgeFinished,
            {**_PURGE_EXAMPLE, "status": "failed", "error": "example"},
        ),
        _type(
            "maintenance.changed",
            "The maintenance mode changed (entering or leaving any mode).",
            MaintenanceChanged,
            {"mode": "read_only", "previous_mode": "normal", "reason": "example", "who": "admin"},
        ),
        _type(
            "notification.failed",
            "A notification gave up after its retries.",
            NotificationFailed,
            {"notification_id": 1, "channel_id": 1, "channel_type": "webhook", "attempts": 8, "last_error": "HTTP 500"},
        ),
        _type(
            "channel.disabled",
            "A channel was disabled because its deliveries kept failing.",
            ChannelHealth,
            {"channel_id": 1, "channel_name": "ops-hook", "channel_type": "webhook", "reason": "example"},
        ),
        _type(
            "channel.recovered",
            "A channel delivered again after trouble.",
            ChannelHealth,
            {"channel_id": 1, "channel_name": "ops-hook", "channel_type": "webhook"},
        ),
        _type("key.created", "An API key was created.", KeyChanged, {"key_id": 1, "name": "ci", "role": "viewer"}),
        _type("key.revoked", "An API key was revoked.", KeyChanged, {"key_id": 1, "name": "ci", "role": "viewer"}),
    )
}


def new_event_id(key: str | None = None, now: float | None = None) -> str:
    """``evt_`` + a time-ordered id; with a ``key`` (e.g. ``export:7:completed``) always the same id.

    A derived id makes emitting idempotent: the same fact emitted twice is one event.
    """
    if key is not None:
        return EVENT_ID_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:26]
    millis = int((time.time() if now is None else now) * 1000)
    return f"{EVENT_ID_PREFIX}{millis:012x}{secrets.token_hex(7)}"


def envelope(event_id: str, event_type: str, moment: datetime, data: dict[str, Any]) -> dict[str, Any]:
    return {"id": event_id, "type": event_type, "time": isoformat(moment), "data": data}


def normalise_data(event_type: str, data: dict[str, Any] | BaseModel) -> dict[str, Any]:
    """The data checked against its type's schema, as JSON. Raises ``KeyError``/``ValidationError``."""
    model = EVENT_TYPES[event_type].data
    raw = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
    return model.model_validate(raw).model_dump(mode="json", exclude_none=False)


# --- patterns -----------------------------------------------------------------


def pattern_problem(pattern: str) -> str | None:
    """Why a subscription pattern is not valid, or ``None``: an exact known type or a trailing ``*``."""
    if pattern == "*":
        return None
    if "*" in pattern:
        if not pattern.endswith(".*") or "*" in pattern[:-1]:
            return "A wildcard may only be a whole trailing segment, as in 'export.*' or '*'."
        if not any(pattern_matches(pattern, known) for known in EVENT_TYPES):
            return f"{pattern!r} matches no event type."
        return None
    if pattern not in EVENT_TYPES:
        return f"Unknown event type {pattern!r}; see GET /system/events/types."
    return None


def pattern_matches(pattern: str, event_type: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def any_pattern_matches(patterns: list[str], event_type: str) -> bool:
    return any(pattern_matches(pattern, event_type) for pattern in patterns)


# --- what email and SMS show -------------------------------------------------------


def _describe_data(event_type: str, data: dict[str, Any]) -> str:
    if event_type.startswith("export."):
        detail = f"{data.get('row_count')} rows" if event_type == "export.completed" else data.get("error")
        return f"Export job {data.get('job_id')} ({data.get('job_type')}): {detail}"
    if event_type.startswith("retention.purge."):
        deleted = sum(int(c.get("deleted") or 0) for c in data.get("categories") or [])
        return f"Purge run {data.get('run_id')}{' (dry run)' if data.get('dry_run') else ''}: {deleted} deleted"
    if event_type == "maintenance.changed":
        return (
            f"Mode {data.get('previous_mode')} -> {data.get('mode')} by {data.get('who')}: {data.get('reason') or ''}"
        )
    if event_type == "notification.failed":
        return f"Notification {data.get('notification_id')} gave up after {data.get('attempts')} attempts"
    if event_type.startswith("channel."):
        return f"Channel {data.get('channel_id')} ({data.get('channel_name') or ''}): {data.get('reason') or ''}"
    if event_type.startswith("key."):
        return f"API key {data.get('key_id')} ({data.get('name')}, {data.get('role')}) by {data.get('who')}"
    return ""


def human_message(event: dict[str, Any]) -> tuple[str, str]:
    """A short subject and body for email and SMS, made from the type and data."""
    event_type = str(event.get("type"))
    summary = _describe_data(event_type, event.get("data") or {}).strip().rstrip(":").strip()
    subject = f"[Valhalla] {event_type}"
    body = f"{summary}\nEvent {event.get('id')} at {event.get('time')}." if summary else f"Event {event.get('id')}."
    return subject[:200], body[:1000]


def notification_failed(view: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The data and key of ``notification.failed`` from a notification as the API shows it."""
    data = {
        "notification_id": view["id"],
        "channel_id": view["channel_id"],
        "channel_type": view["channel_type"],
        "attempts": view["attempts"],
        # Any viewer reads the event log, and subscriptions turn events into notifications: no receiver's answer.
        "last_error": public_error(view.get("last_error")),
    }
    return data, f"notification:{view['id']}:failed:{view['attempts']}"
