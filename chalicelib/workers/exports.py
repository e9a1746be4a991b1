"""The export worker: claims a job, streams its rows to S3, writes the manifest, completes it.

One SQS message ``{"job_id": N}`` asks for one run. The worker

1. *claims* the job with a conditional update (``pending -> running``, or a ``running``
   job whose lease is free), incrementing ``run_seq``: every later write of this run is
   conditional on that ``run_seq`` and on ``status = running``, so a cancel, or another
   worker taking over after a crash, stops it at its next page;
2. reads the source a page at a time (a Query on a key or an index, never a Scan),
   encodes JSON Lines or CSV into a gzip member and, when the member reaches the part
   size, stores it as the next part of a multipart upload;
3. saves a *checkpoint* on the job (the query position after the last row in stored
   parts, the upload id, the parts' ETags and the row count) every
   ``VALHALLA_EXPORT_CHECKPOINT_PAGES`` pages, not after every page (a write per page
   doubled an export's DynamoDB calls): when no part was stored since the last one it
   writes just the progress, and that write is the one that sees a cancel; a new
   multipart upload is saved at once. A run that dies redoes at most that many pages;
4. when the remaining time runs short (and at least one part was stored by this
   invocation, so every invocation makes progress) releases its lease, sends the
   job's message again and returns; the next invocation continues from the checkpoint
   (rows read after it were not stored and are read again: no row is lost or repeated);
5. at the end completes the upload (or writes a small file with one ``PutObject``),
   writes ``manifest.json`` beside it and marks the job ``completed``.

The manifest's ``sha256`` is the checksum of the stored object. A run that saw every
byte (no resumption) keeps a running hash; a resumed one reads the finished object
back from S3 in 1 MiB chunks, because hash state cannot be saved between invocations.

A failure marks the job ``failed`` with the reason, aborts the multipart upload and
deletes anything written under ``exports/{id}/``: nothing half-written is reported.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from chalicelib.budget import Budget, LambdaBudget
from chalicelib.clock import isoformat, parse_iso
from chalicelib.deps import Deps, get_deps
from chalicelib.domain.errors import NotFound
from chalicelib.domain.exports import (
    ExportFormat,
    ExportOutcome,
    JobStatus,
    clip,
    is_built_in,
    manifest_key,
)
from chalicelib.exporting.encoders import Encoder, encoder_for
from chalicelib.exporting.job_sources import source_for
from chalicelib.exporting.manifest import build_manifest, manifest_bytes
from chalicelib.exporting.multipart import SSE, GzipPartWriter, UploadState, abort_upload, error_code, stream_sha256
from chalicelib.exporting.runs import Busy, Checkpoint, HandOffFailed, Run, Stopped, describe, position, run_seconds
from chalicelib.exporting.sources import (
    QuerySource,
    StaticSource,
)
from chalicelib.logs import get_logger
from chalicelib.queues import SqsQueue
from chalicelib.services.exports import ExportJobs
from chalicelib.store.exports import ExportJobItem
from chalicelib.workers.runner import DONE, Outcome, RetryIn, run_batch

PAGE_ROWS = 1000
LEASE_GRACE_SECONDS = 30
MAX_RESTARTS = 1
DEFAULT_BUDGET_MS = 900_000


class ExportWorker:
    def __init__(
        self,
        deps: Deps,
        *,
        part_bytes: int | None = None,
        page_rows: int = PAGE_ROWS,
        reserve_ms: float | None = None,
        mem_level: int = 8,
        checkpoint_pages: int | None = None,
    ) -> None:
        self.deps = deps
        self.jobs: ExportJobs = deps.exports
        self.clock = deps.clock
        self.part_bytes = part_bytes or deps.settings.export_part_bytes
        self.page_rows = page_rows
        self.mem_level = mem_level  # zlib's memLevel: lower emits compressed blocks sooner, in less memory
        self.reserve_ms = reserve_ms if reserve_ms is not None else deps.settings.export_reserve_seconds * 1000
        # Checkpoints (and the progress writes that see a cancel) every so many pages, not every page.
        self.checkpoint_pages = max(
            1, checkpoint_pages if checkpoint_pages is not None else deps.settings.export_checkpoint_pages
        )

    @property
    def s3(self) -> Any:
        return self.jobs.s3

    @property
    def bucket(self) -> str:
        return self.jobs.bucket

    # --- one message ---------------------------------------------------------------

    def run(self, body: dict[str, Any], budget: Budget) -> ExportOutcome:
        """Handle one message; returns what happened (``completed``, ``yielded``, ``failed``...)."""
        job_id = body.get("job_id") if isinstance(body, dict) else None
        if not isinstance(job_id, int) or isinstance(job_id, bool) or job_id < 1:
            get_logger().warning("export message without a job id", extra={"body": str(body)[:200]})
            return ExportOutcome.invalid
        try:
            item = self.jobs.item(job_id)
        except NotFound:
            return ExportOutcome.missing
        if not is_built_in(item.job_type):
            return ExportOutcome.external
        if item.status == JobStatus.completed.value:
            return ExportOutcome.completed
        if item.status == JobStatus.failed.value:
            self._clean_up(Run(item, int(item.run_seq or 0), Checkpoint.of(item)))
            return ExportOutcome.failed
        run = self._claim(item, budget)
        try:
            return self._export(run, budget)
        except Stopped:
            return self._stopped(run)
        except HandOffFailed:
            raise
        except Exception as exc:
            return self._failed(run, exc)

    # --- claim, heartbeat, checkpoint ------------------------------------------------

    def _claim(self, item: ExportJobItem, budget: Budget) -> Run:
        now = self.clock()
        stamp = isoformat(now)
        lease = isoformat(now + timedelta(milliseconds=budget.seconds_left() * 1000, seconds=LEASE_GRACE_SECONDS))
        fields: dict[str, Any] = {
            "status": JobStatus.running.value,
            "run_seq": int(item.run_seq or 0) + 1,
            "lease_until": lease,
            "invocations": int(item.invocations or 0) + 1,
            "updated_at": stamp,
        }
        if item.status == JobStatus.pending.value:
            fields["started_at"] = stamp
            claimed = self.jobs.repo.change(item, fields, status_is=JobStatus.pending.value)
        else:  # a running job whose last invocation's lease has ended (it died or yielded)
            claimed = self.jobs.repo.change(
                item, fields, status_is=JobStatus.running.value, run_seq=int(item.run_seq or 0), lease_ended_by=stamp
            )
        if not claimed:
            current = self.jobs.item(int(item.id))
            wait = 5
            if current.status == JobStatus.running.value and current.lease_until:
                wait = max(1, int((parse_iso(current.lease_until) - now).total_seconds()) + 1)
            raise Busy(int(item.id), wait) from None
        return Run(item, int(item.run_seq), Checkpoint.of(item))

    def _guarded_update(self, run: Run, fields: dict[str, Any]) -> None:
        """Write while this run still holds the job; :class:`Stopped` if it was cancelled or taken over."""
        fields = {**fields, "updated_at": isoformat(self.clock())}
        if not self.jobs.repo.change(run.item, fields, status_is=JobStatus.running.value, run_seq=run.seq):
            raise Stopped()

    def _save_checkpoint(self, run: Run, checkpoint: Checkpoint, progress: dict[str, Any] | None = None) -> None:
        self._guarded_update(
            run,
            {
                "checkpoint": checkpoint.to_json(),
                "rows_written": checkpoint.rows,
                "parts_uploaded": len(checkpoint.upload.etags),
                "bytes_uploaded": checkpoint.upload.bytes_uploaded,
                **(progress or {}),
            },
        )
        run.checkpoint = checkpoint

    # --- the export ------------------------------------------------------------------

    def _source(self, item: ExportJobItem) -> QuerySource | StaticSource:
        return source_for(item, self.deps, isoformat(self.clock()))

    def _export(self, run: Run, budget: Budget) -> ExportOutcome:
        item = run.item
        export_format = ExportFormat(item.format or "jsonl")
        source = self._source(item)
        encoder = encoder_for(export_format, source.columns)
        checkpoint = run.checkpoint
        writer = GzipPartWriter(
            self.s3,
            self.bucket,
            checkpoint.key,
            self.part_bytes,
            UploadState.from_json(checkpoint.upload.to_json()),
            content_type=encoder.content_type,
            filename=f"export-{run.job_id}.{export_format.value}.gz",
            mem_level=self.mem_level,
        )
        run.writer = writer
        if not checkpoint.started:
            writer.write(encoder.header())
        rows = checkpoint.rows
        unsaved: Checkpoint | None = None  # parts stored since the last saved checkpoint
        pages_since_save = 0
        stored_here = False
        for page, after in source.pages(checkpoint.cursor if checkpoint.started else None, self.page_rows):
            if page:
                writer.write(encoder.encode(page))
                rows += len(page)
            if after is None:
                break
            if writer.part_ready():
                writer.upload_part()
                unsaved = Checkpoint(
                    key=checkpoint.key,
                    cursor=after,
                    started=True,
                    rows=rows,
                    upload=UploadState.from_json(writer.state.to_json()),
                    restarts=checkpoint.restarts,
                )
            short = (stored_here or unsaved is not None) and budget.seconds_left() * 1000 < self.reserve_ms
            pages_since_save += 1
            due = pages_since_save >= self.checkpoint_pages
            # A new multipart upload is saved at once, so that no run can lose track of it.
            if unsaved and (due or short or unsaved.upload.upload_id != checkpoint.upload.upload_id):
                self._save_checkpoint(run, unsaved, position(source, unsaved.cursor))
                checkpoint, unsaved, stored_here, pages_since_save = unsaved, None, True, 0
            elif due:  # progress, and the write that sees a cancel within the bound
                self._guarded_update(run, {"rows_written": rows, **position(source, after)})
                pages_since_save = 0
            if stored_here and short:
                return self._hand_off(run)
        return self._complete(run, writer, encoder, source.columns, rows)

    def _hand_off(self, run: Run) -> ExportOutcome:
        """Release the lease (the checkpoint is saved) and ask for the next invocation."""
        self._guarded_update(run, {"lease_until": None})
        try:
            self.jobs.send_to_worker(run.job_id)
        except Exception as exc:
            raise HandOffFailed(str(exc)) from exc
        get_logger().info("export yielded", extra={"job_id": run.job_id, "rows": run.checkpoint.rows, "seq": run.seq})
        return ExportOutcome.yielded

    def _complete(
        self, run: Run, writer: GzipPartWriter, encoder: Encoder, columns: list[str], rows: int
    ) -> ExportOutcome:
        item = run.item
        size, digest = writer.finish()
        key = run.checkpoint.key
        if digest is None:
            digest = stream_sha256(self.s3, self.bucket, key)
        completed_at = isoformat(self.clock())
        storage_url = f"s3://{self.bucket}/{key}"
        manifest_url = f"s3://{self.bucket}/{manifest_key(run.job_id)}"
        export_format = ExportFormat(item.format or "jsonl")
        manifest = build_manifest(
            job_id=run.job_id,
            job_type=item.job_type,
            export_format=export_format.value,
            filter_params=item.filter_params,
            row_count=rows,
            size=size,
            sha256=digest,
            created_at=item.created_at,
            completed_at=completed_at,
            bucket=self.bucket,
            key=key,
            parts=max(1, len(writer.state.etags)),
            columns=columns if export_format is ExportFormat.csv else None,
        )
        self.s3.put_object(
            Bucket=self.bucket,
            Key=manifest_key(run.job_id),
            Body=manifest_bytes(manifest),
            ContentType="application/json",
            ServerSideEncryption=SSE,
        )
        self._guarded_update(
            run,
            {
                "status": JobStatus.completed.value,
                "storage_url": storage_url,
                "manifest_url": manifest_url,
                "completed_at": completed_at,
                "row_count": rows,
                "bytes": size,
                "rows_written": rows,
                "parts_uploaded": max(1, len(writer.state.etags)),
                "bytes_uploaded": size,
                "checkpoint": None,
                "lease_until": None,
            },
        )
        get_logger().info("export completed", extra={"job_id": run.job_id, "rows": rows, "bytes": size})
        self.deps.stats.record_export(item.job_type, "completed", rows, size, run_seconds(item, completed_at))
        self.jobs.notify_finished(item)
        return ExportOutcome.completed

    # --- endings ---------------------------------------------------------------------

    def _clean_up(self, run: Run) -> None:
        """Leave nothing of a failed job in S3: abort its upload, delete its objects."""
        try:
            abort_upload(self.s3, self.bucket, run.checkpoint.key, run.upload_id)
            self.s3.delete_objects(
                Bucket=self.bucket,
                Delete={
                    "Objects": [{"Key": run.checkpoint.key}, {"Key": manifest_key(run.job_id)}],
                    "Quiet": True,
                },
            )
        except Exception:
            get_logger().exception("export clean-up failed", extra={"job_id": run.job_id})

    def _stopped(self, run: Run) -> ExportOutcome:
        current = self.jobs.item(run.job_id)
        if current.status == JobStatus.running.value and int(current.run_seq or 0) != run.seq:
            return ExportOutcome.superseded  # another invocation owns the job (and its upload) now
        if current.status == JobStatus.completed.value:
            return ExportOutcome.completed
        self._clean_up(run)
        get_logger().info("export stopped", extra={"job_id": run.job_id, "status": current.status})
        return ExportOutcome.cancelled

    def _failed(self, run: Run, exc: Exception) -> ExportOutcome:
        get_logger().exception("export failed", extra={"job_id": run.job_id})
        current = self.jobs.item(run.job_id)
        if current.status != JobStatus.running.value or int(current.run_seq or 0) != run.seq:
            return self._stopped(run)
        run.item = current
        if error_code(exc) == "NoSuchUpload" and run.checkpoint.restarts < MAX_RESTARTS:
            return self._restart(run)
        self._clean_up(run)
        message = f"Export failed: {describe(exc)}"
        try:
            self._guarded_update(
                run,
                {
                    "status": JobStatus.failed.value,
                    "error_message": clip(message),
                    "checkpoint": None,
                    "lease_until": None,
                },
            )
        except Stopped:
            return self._stopped(run)
        self.deps.stats.record_export(run.item.job_type, "failed")
        self.jobs.notify_finished(run.item)
        return ExportOutcome.failed

    def _restart(self, run: Run) -> ExportOutcome:
        """The saved upload is gone (completed by a run that died before saying so, or expired): start over."""
        fresh = Checkpoint(key=run.checkpoint.key, restarts=run.checkpoint.restarts + 1)
        self._save_checkpoint(run, fresh)
        return self._hand_off(run)


# --- entry points ----------------------------------------------------------------------


def run_export_message(
    body: dict[str, Any], budget: Budget | Callable[[], float], worker: ExportWorker | None = None
) -> ExportOutcome:
    """Handle one export message (callable directly in tests and by the local stack)."""
    return (worker or ExportWorker(get_deps())).run(body, LambdaBudget.of(budget))


def handle_export_event(event: Any, worker: ExportWorker | None = None) -> dict[str, Any]:
    """The export queue's handler: one job run per message; a job another run holds is retried later."""
    budget = LambdaBudget.from_context(getattr(event, "context", None), 0.0, DEFAULT_BUDGET_MS / 1000)
    jobs = worker.jobs if worker else get_deps().exports
    queue = SqsQueue(lambda: jobs.sqs, jobs.queue_url)

    def export(record: Any) -> Outcome:
        try:
            run_export_message(json.loads(record.body), budget, worker)
        except Busy as busy:
            return RetryIn(max(1, busy.retry_after_seconds))
        return DONE

    return run_batch(event, export, queue)
