"""Export jobs: create, read, list, report status, cancel, download (the seed's PACK UH).

A built-in job is saved ``pending`` and an SQS message asks the export worker
(:mod:`chalicelib.workers.exports`) to run it. Any other ``job_type`` is an external
job: it stays ``pending`` until an outside worker reports through
:meth:`ExportJobs.report_status`. Every status change is a conditional update on the
status it starts from, so two callers can never both move the same job.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from functools import cached_property
from typing import Any

from pydantic import ValidationError

from chalicelib.clock import Clock, isoformat
from chalicelib.domain.common import SYSTEM_PRINCIPAL, Principal
from chalicelib.domain.errors import Busy, Conflict, InvalidField, NotFound, Problem
from chalicelib.domain.exports import (
    FINISHED,
    CreateExport,
    DownloadLink,
    ExportJobView,
    JobStatus,
    StatusUpdate,
    clip,
    is_built_in,
    is_legal,
    is_own_key,
    job_prefix,
    misplaced,
    normalised_filters,
    split_s3_url,
)
from chalicelib.domain.jsonsafe import safe_dump
from chalicelib.exporting.multipart import abort_upload
from chalicelib.logs import get_logger
from chalicelib.services.event_sources import announce_export
from chalicelib.services.export_views import job_view
from chalicelib.services.idempotency import Idempotency
from chalicelib.settings import Settings
from chalicelib.store.base import StorageError
from chalicelib.store.counters import IdAllocator
from chalicelib.store.cursors import scope_of
from chalicelib.store.exports import KIND, ExportJobItem, ExportJobRepo

COUNTER = "export_jobs"
IDEMPOTENCY_SCOPE = "exports"


class ExportJobs:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        ids: IdAllocator,
        idempotency: Idempotency,
        s3: Callable[[], Any] | None = None,
        sqs: Callable[[], Any] | None = None,
        notifications: Callable[[], Any] | None = None,
        presigner: Callable[[], Any] | None = None,
        repo: ExportJobRepo | None = None,
    ) -> None:
        self.repo = repo or ExportJobRepo()
        self.settings = settings
        self.clock = clock
        self.ids = ids
        self.idempotency = idempotency
        self._s3 = s3
        self._sqs = sqs
        self._notifications = notifications
        self._presigner = presigner
        self._queue_url: str | None = None

    @property
    def s3(self) -> Any:
        if self._s3 is not None:
            return self._s3()
        from chalicelib import aws

        return aws.client("s3")

    @property
    def sqs(self) -> Any:
        if self._sqs is not None:
            return self._sqs()
        from chalicelib import aws

        return aws.client("sqs")

    @cached_property
    def presigner(self) -> Any:
        """An S3 client that signs URLs with Signature Version 4 (S3 refuses version 2 on new buckets)."""
        if self._presigner is not None:
            return self._presigner()
        import boto3
        from botocore.config import Config

        session: Any = boto3.session.Session()
        return session.client(
            "s3",
            region_name=self.settings.region,
            endpoint_url=self.settings.aws_endpoint_url,
            config=Config(signature_version="s3v4"),
        )

    @property
    def bucket(self) -> str:
        return self.settings.exports_bucket

    def queue_url(self) -> str:
        if self._queue_url is None:
            name = self.settings.queue("exports")
            self._queue_url = str(self.sqs.get_queue_url(QueueName=name)["QueueUrl"])
        return self._queue_url

    def send_to_worker(self, job_id: int) -> None:
        self.sqs.send_message(QueueUrl=self.queue_url(), MessageBody=json.dumps({"job_id": job_id}))

    # --- create --------------------------------------------------------------------

    def create(
        self,
        request: CreateExport,
        principal: Principal,
        idempotency_key: str | None = None,
        raw_body: bytes | None = None,
        on_created: Callable[[ExportJobView], None] | None = None,
    ) -> ExportJobView:
        """Accept a job (``pending``) and, for a built-in type, ask the worker to run it.

        With an ``idempotency_key``, a repeat of the same request returns the first job
        and creates nothing (``on_created`` runs only for a job really created).
        """
        filters = self._validated_filters(request)
        self._check_channel(request.notify_channel_id)
        body = raw_body if raw_body is not None else request.model_dump_json().encode()

        def make() -> tuple[int, Any]:
            view = self._create(request, filters, principal)
            if on_created is not None:
                on_created(view)
            return 201, safe_dump(view)

        _status, created = self.idempotency.run(IDEMPOTENCY_SCOPE, principal, idempotency_key, body, make)
        return ExportJobView.model_validate(created)

    @staticmethod
    def _validated_filters(request: CreateExport) -> dict[str, Any] | None:
        try:
            return normalised_filters(request.job_type, request.filter_params)
        except ValidationError as exc:
            problems = [
                Problem(("filter_params", *error["loc"]), error["msg"], error["type"])
                for error in exc.errors(include_url=False, include_input=False, include_context=False)
            ]
            raise InvalidField.many(problems) from None

    def _check_channel(self, channel_id: int | None) -> None:
        if channel_id is None:
            return
        notifications = self._notifications() if self._notifications else None
        if notifications is None:
            return
        try:
            notifications.get_channel(channel_id)
        except NotFound:
            raise InvalidField(
                "notify_channel_id", f"Channel {channel_id} does not exist.", "value_error.not_found"
            ) from None

    def _create(self, request: CreateExport, filters: dict[str, Any] | None, principal: Principal) -> ExportJobView:
        now = isoformat(self.clock())
        item = ExportJobItem(
            self.ids.next_id(COUNTER),
            kind=KIND,
            status=JobStatus.pending.value,
            job_type=request.job_type,
            format=request.format.value,
            filter_params=filters,
            requested_by=request.requested_by,
            principal=principal.name,
            notify_channel_id=request.notify_channel_id,
            created_at=now,
            updated_at=now,
        )
        self.repo.create(item)
        if is_built_in(request.job_type):
            try:
                self.send_to_worker(int(item.id))
            except Exception as exc:
                get_logger().exception("export enqueue failed", extra={"job_id": int(item.id)})
                self._finish_failed(item, f"The job could not be queued for the export worker: {exc}")
                raise Busy(
                    f"Export job {item.id} could not be queued and was marked failed; retry the request.",
                    retry_after=5,
                ) from None
        return job_view(item)

    # --- read ----------------------------------------------------------------------

    def item(self, job_id: int, consistent: bool = True) -> ExportJobItem:
        item = self.repo.get(job_id, consistent)
        if item is None:
            raise NotFound(f"Export job {job_id} not found.")
        return item

    def get(self, job_id: int) -> ExportJobView:
        return job_view(self.item(job_id))

    def page(
        self, status: JobStatus | None, job_type: str | None, limit: int, cursor: str | None
    ) -> tuple[list[ExportJobView], str | None]:
        """Newest first, filtered by status and job type."""
        scope = scope_of("exports", status=status, job_type=job_type)
        return self.repo.page(status.value if status else None, job_type, limit, cursor, job_view, scope)

    # --- status changes ------------------------------------------------------------

    def report_status(self, job_id: int, update: StatusUpdate) -> ExportJobView:
        """An outside worker's report: only the seed's legal transitions."""
        item = self.item(job_id)
        current = JobStatus(item.status)
        if is_built_in(item.job_type):
            raise Conflict(
                f"Export job {job_id} is a {item.job_type} job, run by this system's export worker; "
                "only external jobs take status reports (cancel it instead)."
            )
        if not is_legal(current, update.status):
            raise Conflict(f"Export job {job_id} cannot go from {current.value} to {update.status.value}.")
        if misplaced(self.bucket, job_id, update.storage_url):
            raise InvalidField("storage_url", f"In this bucket a job's files are under {job_prefix(job_id)} only.")
        now = isoformat(self.clock())
        fields: dict[str, Any] = {"status": update.status.value, "updated_at": now}
        if update.status is JobStatus.running:
            fields["started_at"] = now
        if update.status is JobStatus.completed:
            fields.update(completed_at=now, storage_url=update.storage_url or "")
        if update.status is JobStatus.failed:
            fields["error_message"] = update.error_message or "Reported failed by its worker."
        if not self.repo.change(item, fields, status_is=current.value):
            raise Conflict(f"Export job {job_id} changed status meanwhile; read it and try again.")
        if update.status in FINISHED:
            self.notify_finished(item)
        return job_view(item)

    def cancel(self, job_id: int, principal: Principal) -> ExportJobView:
        """A pending or running job becomes ``failed``; a running worker stops at its next page."""
        item = self.item(job_id)
        current = JobStatus(item.status)
        if current in FINISHED:
            raise Conflict(f"Export job {job_id} is already {current.value}.")
        moment = self.clock()
        message = f"Cancelled by {principal.name} at {isoformat(moment)}."
        fields = {
            "status": JobStatus.failed.value,
            "error_message": message,
            "updated_at": isoformat(moment),
            "lease_until": None,
        }
        if not self.repo.change(item, fields, status_is=current.value):
            raise Conflict(f"Export job {job_id} changed status meanwhile; read it and try again.")
        self.discard_upload(item)
        self.notify_finished(item)
        return job_view(item)

    def _finish_failed(self, item: ExportJobItem, message: str) -> None:
        fields = {
            "status": JobStatus.failed.value,
            "error_message": clip(message),
            "updated_at": isoformat(self.clock()),
        }
        try:
            changed = self.repo.change(item, fields, status_is=item.status)
        except StorageError:
            changed = False
        if not changed:
            get_logger().error("could not mark export job failed", extra={"job_id": int(item.id)})

    def discard_upload(self, item: ExportJobItem) -> None:
        """Abort a job's unfinished multipart upload (best effort: the worker aborts it too)."""
        checkpoint = item.checkpoint or {}
        upload = checkpoint.get("upload") or {}
        if not upload.get("upload_id"):
            return
        try:
            abort_upload(self.s3, self.bucket, checkpoint["key"], upload["upload_id"])
        except Exception:
            get_logger().exception("could not abort an export upload", extra={"job_id": int(item.id)})

    # --- download ------------------------------------------------------------------

    def download(self, job_id: int) -> DownloadLink:
        item = self.item(job_id)
        if item.status != JobStatus.completed.value:
            raise Conflict(f"Export job {job_id} is {item.status}; its file can be downloaded once it is completed.")
        location = split_s3_url(item.storage_url)
        if location is None or location[0] != self.bucket:
            raise Conflict(f"Export job {job_id} was stored outside this system, at its storage_url.")
        if not is_own_key(job_id, location[1]):  # never presign another job's object
            raise Conflict(f"Export job {job_id}'s storage_url is not under {job_prefix(job_id)}; no link is given.")
        bucket, key = location
        seconds = self.settings.export_url_seconds
        url = self.presigner.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=seconds, HttpMethod="GET"
        )
        return DownloadLink(url=url, expires_at=self.clock() + timedelta(seconds=seconds))

    # --- notifications -------------------------------------------------------------
    def notify_finished(self, item: ExportJobItem) -> None:
        """Tell the job's ``notify_channel_id`` that it completed or failed (never fails the job)."""
        announce_export(job_view(item))
        if item.notify_channel_id is None or self._notifications is None:
            return
        try:
            notifications = self._notifications()
            if notifications is None:
                return
            from chalicelib.domain.notifications import EnqueueNotification

            view = job_view(item)
            done = view.status is JobStatus.completed
            subject = f"Export job {view.id} ({view.job_type}) {'completed' if done else 'failed'}"
            if done:
                text = f"{view.row_count} rows, {view.bytes} bytes, stored at {view.storage_url}."
            else:
                text = f"The export failed: {view.error_message}"
            payload = {
                "job_id": view.id,
                "job_type": view.job_type,
                "status": view.status.value,
                "row_count": view.row_count,
                "bytes": view.bytes,
                "storage_url": view.storage_url,
                "manifest_url": view.manifest_url,
                "error_message": view.error_message,
            }
            request = EnqueueNotification(
                channel_id=int(item.notify_channel_id), subject=subject, body=text, payload=payload
            )
            notifications.enqueue(request, SYSTEM_PRINCIPAL)
        except Exception:
            get_logger().exception("export notification failed", extra={"job_id": int(item.id)})
