"""Export jobs (the seed's PACK UH): statuses, legal transitions, job types and their filters.

Nothing here talks to AWS or HTTP. A job is accepted at once (``pending``), run by the
export worker (``running``) and ends ``completed`` with a file in S3 or ``failed`` with
an error message. Job types this system runs itself have typed filters; any other
``job_type`` is an external job, reported on by an outside worker.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum, StrEnum
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from chalicelib.clock import isoformat
from chalicelib.domain.common import PlainText, RecordId, SingleLine, Timestamp
from chalicelib.domain.notifications import NotificationStatus
from chalicelib.domain.schema import PageQuery, Schema, StrictInput


class ExportOutcome(StrEnum):
    """What one export message came to (the worker's log and the tests read it)."""

    completed = "completed"
    yielded = "yielded"  # out of time: checkpoint saved, the job's message sent again
    failed = "failed"
    cancelled = "cancelled"
    superseded = "superseded"  # another invocation took the job over
    invalid = "invalid"  # the message names no job
    missing = "missing"  # the job does not exist
    external = "external"  # an outside worker runs this job type


class JobStatus(str, Enum):
    pending = "pending"
    running = "running"
    completed = "completed"
    failed = "failed"


FINISHED = frozenset({JobStatus.completed, JobStatus.failed})

# The seed's state machine: a finished job never changes again.
LEGAL_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.pending: frozenset({JobStatus.running, JobStatus.completed, JobStatus.failed}),
    JobStatus.running: frozenset({JobStatus.completed, JobStatus.failed}),
    JobStatus.completed: frozenset(),
    JobStatus.failed: frozenset(),
}


def is_legal(current: JobStatus, new: JobStatus) -> bool:
    return new in LEGAL_TRANSITIONS[current]


class ExportFormat(str, Enum):
    jsonl = "jsonl"
    csv = "csv"


class JobType(str, Enum):
    """The job types this system runs itself."""

    audit_log_export = "audit_log_export"
    notification_export = "notification_export"
    config_snapshot = "config_snapshot"


BUILT_IN = frozenset(job_type.value for job_type in JobType)
JOB_TYPE_PATTERN = r"^[a-z][a-z0-9_.-]{0,127}$"
FILTER_MAX_BYTES = 8 * 1024
ERROR_MAX_CHARS = 2000
STORAGE_URL_MAX_CHARS = 1024


def is_built_in(job_type: str) -> bool:
    return job_type in BUILT_IN


def data_key(job_id: int, export_format: ExportFormat) -> str:
    """Every object of a job lives under ``exports/{id}/`` (the retention purge deletes that prefix)."""
    return f"exports/{job_id}/data.{export_format.value}.gz"


def manifest_key(job_id: int) -> str:
    return f"exports/{job_id}/manifest.json"


def job_prefix(job_id: int) -> str:
    return f"exports/{job_id}/"


def is_own_key(job_id: int, key: str) -> bool:
    """Whether ``key`` is one of this job's objects (no ``.``/``..`` segment a client would resolve)."""
    rest = key.removeprefix(job_prefix(job_id))
    return rest != key and bool(rest) and all(part not in ("", ".", "..") for part in rest.split("/"))


def split_s3_url(url: str | None) -> tuple[str, str] | None:
    if not url or not url.startswith("s3://"):
        return None
    bucket, _, key = url[len("s3://") :].partition("/")
    return (bucket, key) if bucket and key else None


def misplaced(bucket: str, job_id: int, url: str | None) -> bool:
    """Whether ``url`` points into ``bucket`` but outside this job's own objects."""
    location = split_s3_url(url)
    return location is not None and location[0] == bucket and not is_own_key(job_id, location[1])


def clip(text: str, limit: int = ERROR_MAX_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


# --- dates in filters -----------------------------------------------------------

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# A bound's end is the instant after it, so the last representable year cannot be a bound.
LAST_YEAR = 9998


def _parse_moment(value: Any) -> Any:
    """``YYYY-MM-DD`` (a whole UTC day) or an ISO 8601 date-time with a timezone."""
    moment = _read_moment(value)
    if moment.year > LAST_YEAR:
        raise ValueError(f"must be before {LAST_YEAR + 1}-01-01")
    return moment


def _read_moment(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("date-time must include a timezone, e.g. 2024-01-31T23:59:59Z")
        return value.astimezone(UTC)
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("must be a date (YYYY-MM-DD) or an ISO 8601 date-time with a timezone")
    text = value.strip()
    try:
        if _DATE_ONLY.match(text):
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError("must be a date (YYYY-MM-DD) or an ISO 8601 date-time with a timezone") from None
    if moment.tzinfo is None:
        raise ValueError("date-time must include a timezone, e.g. 2024-01-31T23:59:59Z")
    return moment.astimezone(UTC)


def _show_moment(value: date) -> str:
    return isoformat(value) if isinstance(value, datetime) else value.isoformat()


Moment = Annotated[datetime | date, BeforeValidator(_parse_moment), PlainSerializer(_show_moment, return_type=str)]


def _lower(value: date) -> datetime:
    """The first instant a filter bound covers."""
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time.min, tzinfo=UTC)


def _upper(value: date) -> datetime:
    """The first instant after the ones a filter bound covers (a date covers its whole day)."""
    if isinstance(value, datetime):
        return value + timedelta(milliseconds=1)
    return datetime.combine(value + timedelta(days=1), time.min, tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    """A half-open time range ``[start, end)``; ``None`` is unbounded."""

    start: datetime | None
    end: datetime | None

    def contains(self, moment: datetime) -> bool:
        return (self.start is None or moment >= self.start) and (self.end is None or moment < self.end)


class TimeRangeFilter(StrictInput):
    """``start_date`` and ``end_date`` (both inclusive), or ``before_date`` (exclusive) alone."""

    start_date: Moment | None = None
    end_date: Moment | None = None
    before_date: Moment | None = None

    @model_validator(mode="after")
    def _one_range(self) -> TimeRangeFilter:
        if self.before_date is not None:
            if self.start_date is not None or self.end_date is not None:
                raise ValueError("Give either before_date, or start_date and end_date; not both.")
            return self
        if self.start_date is None or self.end_date is None:
            raise ValueError("Give start_date and end_date, or before_date.")
        if _lower(self.start_date) >= _upper(self.end_date):
            raise ValueError("start_date must not be after end_date.")
        return self

    def window(self) -> Window:
        if self.before_date is not None:
            return Window(None, _lower(self.before_date))
        assert self.start_date is not None and self.end_date is not None
        return Window(_lower(self.start_date), _upper(self.end_date))


class AuditExportFilter(TimeRangeFilter):
    actor: SingleLine | None = Field(default=None, min_length=1, max_length=128)
    action: SingleLine | None = Field(default=None, min_length=1, max_length=128)


class NotificationExportFilter(TimeRangeFilter):
    status: NotificationStatus | None = None
    channel_id: RecordId | None = None


class ConfigSnapshotFilter(StrictInput):
    """A snapshot takes no filters: it is the configuration as it is now."""


FILTERS: dict[str, type[StrictInput]] = {
    JobType.audit_log_export.value: AuditExportFilter,
    JobType.notification_export.value: NotificationExportFilter,
    JobType.config_snapshot.value: ConfigSnapshotFilter,
}


def parse_filters(job_type: str, params: dict[str, Any] | None) -> StrictInput | None:
    """The typed filters of a built-in job type (raises pydantic's ``ValidationError``)."""
    model = FILTERS.get(job_type)
    if model is None:
        return None
    return model.model_validate(params or {})


def normalised_filters(job_type: str, params: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a job stores: typed filters as JSON (unset ones left out), or an external job's own."""
    typed = parse_filters(job_type, params)
    if typed is None:
        return params
    return typed.model_dump(mode="json", exclude_none=True)


# --- requests -------------------------------------------------------------------


class CreateExport(StrictInput):
    """``POST /system/exports/``."""

    job_type: str = Field(min_length=1, max_length=128, pattern=JOB_TYPE_PATTERN)
    filter_params: dict[str, Any] | None = None
    requested_by: SingleLine | None = Field(default=None, min_length=1, max_length=256)
    format: ExportFormat = ExportFormat.jsonl
    notify_channel_id: RecordId | None = None

    @field_validator("filter_params")
    @classmethod
    def _bounded(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        size = len(json.dumps(value, separators=(",", ":")).encode("utf-8"))
        if size > FILTER_MAX_BYTES:
            raise ValueError(f"is {size} bytes as JSON; the limit is {FILTER_MAX_BYTES}.")
        return value


class StatusUpdate(StrictInput):
    """``POST /system/exports/{id}/status``: an outside worker reports on its job."""

    status: JobStatus
    storage_url: SingleLine | None = Field(
        default=None,
        min_length=1,
        max_length=STORAGE_URL_MAX_CHARS,
        pattern=r"^s3://[^\s/]+(/\S*)?$",
        description="Where the result is: an s3:// URL (in this system's bucket, only under exports/{id}/).",
    )
    error_message: PlainText | None = Field(default=None, min_length=1, max_length=ERROR_MAX_CHARS)

    @model_validator(mode="after")
    def _fields_match_status(self) -> StatusUpdate:
        if self.status is JobStatus.completed and not self.storage_url:
            raise ValueError("A completed job needs storage_url.")
        if self.storage_url and self.status is not JobStatus.completed:
            raise ValueError("storage_url is only given with status completed.")
        if self.error_message and self.status is not JobStatus.failed:
            raise ValueError("error_message is only given with status failed.")
        return self


class ExportQuery(PageQuery):
    status: JobStatus | None = None
    job_type: str | None = Field(default=None, min_length=1, max_length=128, pattern=JOB_TYPE_PATTERN)


# --- responses ------------------------------------------------------------------


class ExportProgress(Schema):
    rows_written: int = Field(description="Rows written to the result so far.")
    parts_uploaded: int = Field(description="Parts of the S3 multipart upload stored so far.")
    bytes_uploaded: int = Field(description="Compressed bytes stored so far.")
    invocations: int = Field(description="Worker invocations the job has used (more than one: it was resumed).")
    segments_read: int | None = Field(
        default=None, description="Parts of the source read in full (audit-log days, outbox statuses)."
    )
    segments_total: int | None = Field(
        default=None, description="Parts of the source, known before the first row; null until the first progress."
    )
    fraction: float | None = Field(
        default=None,
        description="segments_read / segments_total (1 when completed); null while unknown. A rough share when "
        "parts differ in size: rows_written and bytes_uploaded are exact.",
    )


def segment_progress(status: str, read: Any, total: Any) -> dict[str, Any]:
    """The progress fields of a job that read ``read`` of ``total`` source segments (stored numbers or None)."""
    total = int(total) if total is not None else None
    if status == JobStatus.completed.value:
        return {"segments_read": total, "segments_total": total, "fraction": 1.0}
    read = int(read) if read is not None else None
    return {
        "segments_read": read,
        "segments_total": total,
        "fraction": round(read / total, 4) if read is not None and total else None,
    }


class ExportJobView(Schema):
    id: int
    job_type: str
    status: JobStatus
    format: ExportFormat
    filter_params: dict[str, Any] | None = None
    requested_by: str | None = None
    principal: str = Field(description="The API key that created the job.")
    notify_channel_id: int | None = None
    created_at: Timestamp
    started_at: Timestamp | None = None
    completed_at: Timestamp | None = None
    updated_at: Timestamp
    storage_url: str | None = None
    manifest_url: str | None = None
    error_message: str | None = None
    row_count: int | None = None
    bytes: int | None = None
    progress: ExportProgress


class DownloadLink(Schema):
    url: str = Field(description="A presigned HTTPS GET of the result file (gzip).")
    expires_at: Timestamp
