"""Export jobs, keyed by their integer id.

``by_status`` serves the status filter and the retention purge (finished jobs older
than a cutoff); ``by_type`` the job-type filter; ``by_created`` the unfiltered list,
newest first. ``checkpoint`` is the worker's position between invocations: the query
cursor after the last row stored, the multipart upload and its parts.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.store.base import StoredModel, TableMeta, conditional_failed, register
from chalicelib.store.pagination import query_page

KIND = "export_job"


class JobsByStatus(GlobalSecondaryIndex["ExportJobItem"]):
    class Meta:
        index_name = "by_status"
        projection = AllProjection()

    status = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class JobsByType(GlobalSecondaryIndex["ExportJobItem"]):
    class Meta:
        index_name = "by_type"
        projection = AllProjection()

    job_type = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class JobsByCreated(GlobalSecondaryIndex["ExportJobItem"]):
    class Meta:
        index_name = "by_created"
        projection = AllProjection()

    kind = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


@register
class ExportJobItem(StoredModel):
    class Meta(TableMeta):
        logical_name = "export_jobs"

    id = NumberAttribute(hash_key=True)
    kind = UnicodeAttribute(default=KIND)
    status = UnicodeAttribute()
    job_type = UnicodeAttribute()
    format = UnicodeAttribute(default="jsonl")
    filter_params = JSONAttribute(null=True)
    requested_by = UnicodeAttribute(null=True)
    principal = UnicodeAttribute()
    notify_channel_id = NumberAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    started_at = UnicodeAttribute(null=True)
    completed_at = UnicodeAttribute(null=True)
    storage_url = UnicodeAttribute(null=True)
    manifest_url = UnicodeAttribute(null=True)
    error_message = UnicodeAttribute(null=True)
    row_count = NumberAttribute(null=True)
    bytes = NumberAttribute(null=True)
    # Progress, as the last page and the last stored part left it.
    rows_written = NumberAttribute(default=0)
    parts_uploaded = NumberAttribute(default=0)
    bytes_uploaded = NumberAttribute(default=0)
    invocations = NumberAttribute(default=0)
    # Segments of the source read in full, of how many (days, statuses): progress toward a known total.
    segments_read = NumberAttribute(null=True)
    segments_total = NumberAttribute(null=True)
    # The worker's position after the last stored part (see chalicelib.workers.exports).
    checkpoint = JSONAttribute(null=True)
    # Fencing: each claim increments run_seq; writes of a run are conditional on it.
    run_seq = NumberAttribute(default=0)
    lease_until = UnicodeAttribute(null=True)

    by_status = JobsByStatus()
    by_type = JobsByType()
    by_created = JobsByCreated()


class ExportJobRepo:
    """Export jobs: created once, then changed only under a condition on their state."""

    def create(self, item: ExportJobItem) -> None:
        item.save(condition=ExportJobItem.id.does_not_exist())

    def get(self, job_id: int, consistent: bool = True) -> ExportJobItem | None:
        try:
            return ExportJobItem.get(job_id, consistent_read=consistent)
        except ExportJobItem.DoesNotExist:
            return None

    def page(
        self,
        status: str | None,
        job_type: str | None,
        limit: int,
        cursor: str | None,
        view: Callable[[ExportJobItem], Any],
        scope: str,
    ) -> tuple[list[Any], str | None]:
        """Newest first, each filter served by an index (``by_type`` with a status filter for both)."""

        def run(**page: Any) -> Any:
            if job_type is not None:
                condition = ExportJobItem.status == status if status is not None else None
                return ExportJobItem.by_type.query(
                    job_type, filter_condition=condition, scan_index_forward=False, **page
                )
            if status is not None:
                return ExportJobItem.by_status.query(status, scan_index_forward=False, **page)
            return ExportJobItem.by_created.query(KIND, scan_index_forward=False, **page)

        return query_page(run, limit, cursor, view, scope)

    def change(
        self,
        item: ExportJobItem,
        fields: dict[str, Any],
        *,
        status_is: str | None = None,
        run_seq: int | None = None,
        lease_ended_by: str | None = None,
    ) -> bool:
        """Set ``fields`` on the job (a ``None`` value removes the attribute) if it still is
        as the caller saw it: in ``status_is``, in run ``run_seq``, its lease ended by
        ``lease_ended_by``. False, and nothing written, when it is not; ``item`` is
        refreshed from the table when it is."""
        actions = [
            getattr(ExportJobItem, name).remove() if value is None else getattr(ExportJobItem, name).set(value)
            for name, value in fields.items()
        ]
        conditions: list[Any] = []
        if status_is is not None:
            conditions.append(ExportJobItem.status == status_is)
        if run_seq is not None:
            conditions.append(ExportJobItem.run_seq == run_seq)
        if lease_ended_by is not None:
            conditions.append(ExportJobItem.lease_until.does_not_exist() | (ExportJobItem.lease_until < lease_ended_by))
        condition = functools.reduce(operator.and_, conditions) if conditions else None
        try:
            item.update(actions=actions, condition=condition)
        except UpdateError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True
