"""The events the rest of the system announces, each built from what its source knows.

Each function is one line at its source's edge; each names its fact with a ``key`` so
that a retried worker or a repeated call emits it once. Emitting never raises.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.services.emitting import emit

if TYPE_CHECKING:
    from chalicelib.domain.exports import ExportJobView
    from chalicelib.domain.keys import ApiKeyView
    from chalicelib.domain.maintenance import MaintenanceState
    from chalicelib.domain.retention import PurgeRun


def announce_export(view: ExportJobView) -> None:
    outcome = "completed" if view.status.value == "completed" else "failed"
    data = {
        "job_id": view.id,
        "job_type": view.job_type,
        "format": view.format.value,
        "status": view.status.value,
        "row_count": view.row_count,
        "bytes": view.bytes,
        "error": view.error_message,
    }
    emit(f"export.{outcome}", data, key=f"export:{view.id}:{outcome}")


def announce_purge_run(run: PurgeRun) -> None:
    outcome = "failed" if run.status.value == "failed" else "completed"  # a skipped run completed doing nothing
    categories = [{"category": s.category, "matched": s.matched, "deleted": s.deleted} for s in run.categories]
    data = {
        "run_id": run.id,
        "dry_run": run.dry_run,
        "status": run.status.value,
        "categories": categories,
        "error": run.reason if outcome == "failed" else None,
    }
    emit(f"retention.purge.{outcome}", data, key=f"purge:{run.id}:{outcome}")


def announce_maintenance(previous: MaintenanceState | None, state: MaintenanceState, key: str | None = None) -> None:
    data = {
        "mode": state.mode.value,
        "previous_mode": previous.mode.value if previous is not None else None,
        "reason": state.reason,
        "ends_at": state.ends_at.isoformat().replace("+00:00", "Z") if state.ends_at else None,
        "who": state.updated_by,
    }
    emit("maintenance.changed", data, key=key)


def announce_key(view: ApiKeyView, who: str, created: bool) -> None:
    action = "created" if created else "revoked"
    data = {"key_id": view.id, "name": view.name, "role": view.role.value, "who": who}
    emit(f"key.{action}", data, key=f"key:{view.id}:{action}")
