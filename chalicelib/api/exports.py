"""Export jobs (the seed's PACK UH): create, list, read, report status, cancel, download."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.api.blueprint import ApiBlueprint
from chalicelib.deps import get_deps
from chalicelib.domain.common import PageOf, Role, page_body
from chalicelib.http import Call, Reply, endpoint, path_id
from chalicelib.shield import shield

if TYPE_CHECKING:
    from chalicelib.domain.exports import CreateExport, DownloadLink, ExportJobView, ExportQuery, StatusUpdate

exports_api = ApiBlueprint(__name__, "/system/exports")


@exports_api.route("/", methods=["POST"])
@endpoint(
    exports_api,
    role=Role.operator,
    status=201,
    body="exports.CreateExport",
    response="exports.ExportJobView",
    errors=(409,),
)
@shield
def create_export(call: Call) -> Reply:
    """Create an export job (pending); built-in types run at once; honours Idempotency-Key."""
    request: CreateExport = call.body()

    def audit(view: ExportJobView) -> None:
        call.audit(
            "export.create",
            "export_job",
            view.id,
            {"job_type": view.job_type, "format": view.format.value, "filter_params": view.filter_params},
        )

    view = get_deps().exports.create(
        request, call.principal, call.header("Idempotency-Key"), call.raw_body, on_created=audit
    )
    return Reply(view, 201)


@exports_api.route("/", methods=["GET"])
@endpoint(exports_api, role=Role.viewer, query="exports.ExportQuery", response=PageOf("exports.ExportJobView"))
def list_exports(call: Call) -> dict[str, Any]:
    """List export jobs newest first, filtered by status and job_type."""
    query: ExportQuery = call.query()
    return page_body(*get_deps().exports.page(query.status, query.job_type, query.limit, query.cursor))


@exports_api.route("/{job_id}", methods=["GET"])
@endpoint(exports_api, role=Role.viewer, response="exports.ExportJobView", errors=(404,))
def get_export(call: Call, job_id: str) -> ExportJobView:
    """One export job with its progress, row count, size and storage URL."""
    return get_deps().exports.get(path_id(job_id, "job_id"))


@exports_api.route("/{job_id}/status", methods=["POST"])
@endpoint(
    exports_api, role=Role.operator, body="exports.StatusUpdate", response="exports.ExportJobView", errors=(404, 409)
)
@shield
def report_status(call: Call, job_id: str) -> ExportJobView:
    """Report an external job's status: pending to running, completed or failed; running to completed or failed."""
    update: StatusUpdate = call.body()
    view = get_deps().exports.report_status(path_id(job_id, "job_id"), update)
    call.audit("export.status", "export_job", view.id, update.model_dump(mode="json", exclude_none=True))
    return view


@exports_api.route("/{job_id}/cancel", methods=["POST"])
@endpoint(exports_api, role=Role.operator, response="exports.ExportJobView", errors=(404, 409))
@shield
def cancel_export(call: Call, job_id: str) -> ExportJobView:
    """Cancel a pending or running job: it becomes failed; a running worker stops at its next page."""
    view = get_deps().exports.cancel(path_id(job_id, "job_id"), call.principal)
    call.audit("export.cancel", "export_job", view.id, {"job_type": view.job_type})
    return view


@exports_api.route("/{job_id}/download", methods=["GET"])
@endpoint(exports_api, role=Role.viewer, response="exports.DownloadLink", errors=(404, 409))
def download_export(call: Call, job_id: str) -> DownloadLink:
    """A short-lived presigned URL of a completed job's file (409 until it is completed)."""
    return get_deps().exports.download(path_id(job_id, "job_id"))
