from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.auth import api_key_authorizer
from chalicelib.deps import get_deps
from chalicelib.domain.audit import AuditEvent, AuditQuery
from chalicelib.domain.common import Page, Role, page_body
from chalicelib.http import Call, endpoint

audit_api = Blueprint(__name__)


@audit_api.route("/system/audit", methods=["GET"], authorizer=api_key_authorizer)
@endpoint(audit_api, role=Role.viewer, query=AuditQuery, response=Page[AuditEvent])
def list_audit(call: Call) -> dict[str, Any]:
    """The audit log, newest first, filtered by time range, actor and action."""
    return page_body(*get_deps().audit.search(call.query(AuditQuery)))
