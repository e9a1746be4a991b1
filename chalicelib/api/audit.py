from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.api.blueprint import ApiBlueprint
from chalicelib.deps import get_deps
from chalicelib.domain.common import PageOf, Role, page_body
from chalicelib.http import Call, endpoint

if TYPE_CHECKING:
    pass

audit_api = ApiBlueprint(__name__, "/system/audit")


@audit_api.route("/", methods=["GET"])
@endpoint(audit_api, role=Role.viewer, query="audit.AuditQuery", response=PageOf("audit.AuditEvent"))
def list_audit(call: Call) -> dict[str, Any]:
    """The audit log, newest first, filtered by time range, actor and action (below admin, URLs redacted)."""
    from chalicelib.domain.disclosure import audit_summary_for

    events, cursor = get_deps().audit.search(call.query())
    role = call.principal.role
    return page_body(
        [event.model_copy(update={"summary": audit_summary_for(role, event.summary)}) for event in events], cursor
    )
