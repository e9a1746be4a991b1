"""Where a built-in export job's rows come from: a query per job type, or a snapshot of the configuration."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.domain.exports import AuditExportFilter, JobType, NotificationExportFilter, parse_filters
from chalicelib.exporting.sources import (
    QuerySource,
    StaticSource,
    audit_source,
    config_snapshot_source,
    notification_source,
)
from chalicelib.store.exports import ExportJobItem

if TYPE_CHECKING:
    from chalicelib.deps import Deps


def source_for(item: ExportJobItem, deps: Deps, now: str) -> QuerySource | StaticSource:
    filters = parse_filters(item.job_type, item.filter_params)
    if item.job_type == JobType.audit_log_export.value:
        assert isinstance(filters, AuditExportFilter)
        return audit_source(filters, deps.audit.known_days)
    if item.job_type == JobType.notification_export.value:
        assert isinstance(filters, NotificationExportFilter)
        return notification_source(filters)
    return config_snapshot_source(
        now,
        lambda: list(deps.notifications.list_all_channels_redacted()),
        _policies,
        lambda: dict(deps.maintenance.store.load().model_dump(mode="json")),
    )


def _policies() -> list[dict[str, Any]]:
    from chalicelib.store.retention import PolicyRepo

    return [
        {
            "id": int(item.id),
            "category": item.category,
            "days_to_keep": int(item.days_to_keep),
            "enabled": bool(item.enabled),
            "archive": bool(item.archive),
            "description": item.description,
            "created_at": item.created_at,
            "updated_at": item.updated_at,
        }
        for item in PolicyRepo().all()
    ]
