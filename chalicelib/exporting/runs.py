"""One export run's state: its checkpoint on the job item, and why a run stops early."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chalicelib.clock import parse_iso
from chalicelib.domain.exports import ExportFormat, data_key
from chalicelib.exporting.multipart import GzipPartWriter, UploadState, error_code
from chalicelib.exporting.sources import QuerySource, StaticSource
from chalicelib.store.exports import ExportJobItem


class Busy(Exception):
    """Another invocation holds the job's lease: try this message again later."""

    def __init__(self, job_id: int, retry_after_seconds: int) -> None:
        super().__init__(f"export job {job_id} is held by another run for {retry_after_seconds}s")
        self.retry_after_seconds = retry_after_seconds


class Stopped(Exception):
    """The job is no longer this run's: cancelled, or taken over after a lost lease."""


class HandOffFailed(Exception):
    """The checkpoint is saved but the next message could not be sent: SQS must redeliver this one."""


@dataclass
class Checkpoint:
    key: str
    cursor: dict[str, Any] | None = None
    started: bool = False
    rows: int = 0
    upload: UploadState = field(default_factory=UploadState)
    restarts: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "cursor": self.cursor,
            "started": self.started,
            "rows": self.rows,
            "upload": self.upload.to_json(),
            "restarts": self.restarts,
        }

    @classmethod
    def of(cls, item: ExportJobItem) -> Checkpoint:
        data = item.checkpoint or {}
        key = data.get("key") or data_key(int(item.id), ExportFormat(item.format or "jsonl"))
        return cls(
            key=key,
            cursor=data.get("cursor"),
            started=bool(data.get("started")),
            rows=int(data.get("rows") or 0),
            upload=UploadState.from_json(data.get("upload")),
            restarts=int(data.get("restarts") or 0),
        )


@dataclass
class Run:
    item: ExportJobItem
    seq: int
    checkpoint: Checkpoint
    writer: GzipPartWriter | None = None

    @property
    def job_id(self) -> int:
        return int(self.item.id)

    @property
    def upload_id(self) -> str | None:
        if self.writer is not None:
            return self.writer.state.upload_id
        return self.checkpoint.upload.upload_id


def position(source: QuerySource | StaticSource, after: dict[str, Any] | None) -> dict[str, Any]:
    """The job's segment progress at ``after``, written beside its row count (no extra write)."""
    read, total = source.progress(after)
    return {"segments_read": read, "segments_total": total}


def describe(exc: Exception) -> str:
    """Why a run failed, for the job's error message (the AWS operation and error code when there is one)."""
    code = error_code(exc)
    if code:
        operation = getattr(exc, "operation_name", "") or "AWS call"
        message = (getattr(exc, "response", None) or {}).get("Error", {}).get("Message", "")
        return f"{operation} returned {code}: {message}".strip()
    return f"{type(exc).__name__}: {exc}"


def run_seconds(item: ExportJobItem, completed_at: str) -> float | None:
    """How long a job took, from its start (or creation) to ``completed_at``."""
    started = item.started_at or item.created_at
    return (parse_iso(completed_at) - parse_iso(started)).total_seconds() if started else None
