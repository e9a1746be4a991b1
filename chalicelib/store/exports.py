"""Export jobs, keyed by their integer id.

``by_status`` serves the status filter and the retention purge (finished jobs older
than a cutoff); ``by_type`` the job-type filter; ``by_created`` the unfiltered list,
newest first. ``checkpoint`` is the worker's position between invocations: the query
cursor after the last row stored, the multipart upload and its parts.
"""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.store.base import TableMeta, register

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
class ExportJobItem(Model):
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
