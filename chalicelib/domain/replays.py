"""Replays of notifications (bulk recovery): request, status and view. No I/O here."""

from __future__ import annotations

from datetime import timedelta
from enum import Enum, StrEnum

from pydantic import Field, model_validator

from chalicelib.domain.common import InputTimestamp, RecordId, Timestamp
from chalicelib.domain.notifications import NotificationStatus
from chalicelib.domain.schema import PageQuery, Schema, StrictInput

MAX_SPAN = timedelta(days=14)
MAX_REPLAY = 10_000


class RunOutcome(StrEnum):
    """What one invocation of the replay worker came to."""

    done = "done"  # finished, cancelled or taken over: nothing more to do for this message
    proceed = "continue"  # out of time: a fresh invocation carries on from the stored position
    busy = "busy"  # another invocation holds the lease
    skip = "skip"  # unknown or already finished


class ReplayStatus(str, Enum):
    pending = "pending"
    running = "running"
    completed = "completed"
    cancelled = "cancelled"
    failed = "failed"


FINISHED = frozenset({ReplayStatus.completed, ReplayStatus.cancelled, ReplayStatus.failed})


class CreateReplay(StrictInput):
    channel_id: RecordId | None = Field(default=None, description="Only this channel's notifications.")
    status: list[NotificationStatus] = Field(
        default_factory=lambda: [NotificationStatus.failed],
        min_length=1,
        description="Which notifications: failed (re-queued in place) and/or sent (copied; needs to_channel_id).",
    )
    since: InputTimestamp
    until: InputTimestamp
    max: int = Field(default=MAX_REPLAY, ge=1, le=MAX_REPLAY)
    to_channel_id: RecordId | None = Field(default=None, description="Copy each match to this channel instead.")
    dry_run: bool = Field(default=False, description="Count the matches; change nothing.")

    @model_validator(mode="after")
    def _consistent(self) -> CreateReplay:
        if self.until <= self.since:
            raise ValueError("until must be after since")
        if self.until - self.since > MAX_SPAN:
            raise ValueError("since and until must be at most 14 days apart")
        if NotificationStatus.pending in self.status:
            raise ValueError("status: pending notifications are being delivered already; replay failed or sent ones")
        if NotificationStatus.sent in self.status and self.to_channel_id is None:
            raise ValueError("status: sent notifications are replayed only as copies (give to_channel_id)")
        self.status = sorted(set(self.status), key=lambda status: status.value)
        return self


class ReplayQuery(PageQuery):
    pass


class ReplayView(Schema):
    id: int
    status: ReplayStatus
    channel_id: int | None = None
    statuses: list[NotificationStatus]
    since: Timestamp
    until: Timestamp
    max: int
    to_channel_id: int | None = None
    dry_run: bool
    matched: int = Field(description="Notifications that matched so far.")
    replayed: int = Field(description="Re-queued (or copied) so far; 0 in a dry run.")
    skipped: int = Field(description="Matched but not replayable (changed meanwhile, out of attempts, ...).")
    requested_by: str | None = None
    created_at: Timestamp
    updated_at: Timestamp
    started_at: Timestamp | None = None
    completed_at: Timestamp | None = None
    error: str | None = None
