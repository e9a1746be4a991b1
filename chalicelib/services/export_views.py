"""An export job as the API shows it, from its stored item (progress included)."""

from __future__ import annotations

from typing import Any

from chalicelib.clock import parse_iso
from chalicelib.domain.exports import ExportFormat, ExportJobView, ExportProgress, JobStatus, segment_progress
from chalicelib.store.exports import ExportJobItem


def _time(value: str | None) -> Any:
    return parse_iso(value) if value else None


def job_view(item: ExportJobItem) -> ExportJobView:
    return ExportJobView(
        id=int(item.id),
        job_type=item.job_type,
        status=JobStatus(item.status),
        format=ExportFormat(item.format or "jsonl"),
        filter_params=item.filter_params,
        requested_by=item.requested_by,
        principal=item.principal,
        notify_channel_id=int(item.notify_channel_id) if item.notify_channel_id is not None else None,
        created_at=parse_iso(item.created_at),
        started_at=_time(item.started_at),
        completed_at=_time(item.completed_at),
        updated_at=parse_iso(item.updated_at),
        storage_url=item.storage_url,
        manifest_url=item.manifest_url,
        error_message=item.error_message,
        row_count=int(item.row_count) if item.row_count is not None else None,
        bytes=int(item.bytes) if item.bytes is not None else None,
        progress=ExportProgress(
            rows_written=int(item.rows_written or 0),
            parts_uploaded=int(item.parts_uploaded or 0),
            bytes_uploaded=int(item.bytes_uploaded or 0),
            invocations=int(item.invocations or 0),
            **segment_progress(item.status, item.segments_read, item.segments_total),
        ),
    )
