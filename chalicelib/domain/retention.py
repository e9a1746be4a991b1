"""Retention policies and purge runs (the seed's PACK UI): schemas and status values."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum, StrEnum
from typing import Annotated

from pydantic import Field, StrictBool, StrictInt, field_validator

from chalicelib.domain.common import PlainText, Timestamp
from chalicelib.domain.schema import Schema, StrictInput

CATEGORY_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
MAX_DAYS_TO_KEEP = 36500

Category = Annotated[str, Field(min_length=1, max_length=64, pattern=CATEGORY_PATTERN)]


def cutoff_for(now: datetime, days_to_keep: int) -> datetime:
    """Records created strictly before this moment are expired."""
    return now - timedelta(days=days_to_keep)


# Path segments of the API under /system/retention/: they cannot name a category.
RESERVED_CATEGORIES = frozenset({"purge", "runs"})


class SetPolicy(StrictInput):
    """``POST /system/retention/``: create the category's policy or update it.

    On update, a field left out keeps its current value.
    """

    category: Category
    days_to_keep: StrictInt = Field(ge=1, le=MAX_DAYS_TO_KEEP)
    enabled: StrictBool = True
    description: PlainText | None = Field(default=None, max_length=1000)
    archive: StrictBool = False

    @field_validator("category")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_CATEGORIES:
            raise ValueError(f"'{value}' is reserved by the API's paths")
        return value


class RetentionPolicy(Schema):
    id: int
    category: str
    days_to_keep: int
    enabled: bool
    description: str | None = None
    archive: bool = False
    purgeable: bool = Field(description="Whether this system can purge the category's records.")
    created_at: Timestamp
    updated_at: Timestamp


class RetentionPreview(Schema):
    category: str
    days_to_keep: int
    enabled: bool
    purgeable: bool
    cutoff: Timestamp = Field(description="Records created before this moment are expired.")
    count: int | None = Field(description="Records the policy would delete now (null when not purgeable).")
    oldest: Timestamp | None = Field(description="Creation time of the oldest expired record.")


class StartPurge(StrictInput):
    """``POST /system/retention/purge``: every enabled policy, or only the categories named."""

    categories: list[Category] | None = Field(default=None, min_length=1, max_length=50)
    dry_run: StrictBool = False

    @field_validator("categories")
    @classmethod
    def _unique(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("categories must not repeat")
        return value


class RunStatus(str, Enum):
    pending = "pending"
    running = "running"
    completed = "completed"
    skipped = "skipped"
    failed = "failed"


FINISHED_RUN = frozenset({RunStatus.completed, RunStatus.skipped, RunStatus.failed})


class StepStatus(str, Enum):
    """Where one category of a run stands."""

    pending = "pending"
    archiving = "archiving"
    purging = "purging"
    completed = "completed"
    skipped = "skipped"
    failed = "failed"


FINISHED_STEP = frozenset({StepStatus.completed, StepStatus.skipped, StepStatus.failed})


class CategoryResult(Schema):
    category: str
    status: StepStatus
    days_to_keep: int | None = None
    cutoff: Timestamp | None = None
    archive: bool = False
    archive_job_id: int | None = None
    matched: int = Field(default=0, description="Expired records found (in a dry run: what would be deleted).")
    deleted: int = Field(default=0, description="Records deleted.")
    objects_deleted: int = Field(default=0, description="S3 objects deleted with them (export files, manifests).")
    reason: str | None = None


class PurgeRun(Schema):
    id: int
    status: RunStatus
    dry_run: bool
    trigger: str = Field(description="`api` or `schedule`.")
    requested_by: str
    categories: list[CategoryResult]
    reason: str | None = None
    created_at: Timestamp
    started_at: Timestamp | None = None
    ended_at: Timestamp | None = None


class StepOutcome(StrEnum):
    """What advancing one step of a purge run came to."""

    done = "done"  # the step is finished (completed, skipped or failed)
    ready = "ready"  # its archive export completed: the purge may start
    wait = "wait"  # its archive export is still running
    throttled = "throttled"  # DynamoDB throttled the deletes
    paused = "paused"  # this invocation's time is up


THROTTLED_PAUSE_SECONDS = 10


def requeue_delay(delay: int | None, outcome: StepOutcome, archive_poll_seconds: int) -> int | None:
    """When the run's next message is due after one more step's outcome: the soonest need wins."""
    if outcome is StepOutcome.paused:
        return 0
    wait = {StepOutcome.wait: archive_poll_seconds, StepOutcome.throttled: THROTTLED_PAUSE_SECONDS}.get(outcome)
    if wait is None:
        return delay
    return wait if delay is None else min(delay, wait)
