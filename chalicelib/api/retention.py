"""Retention policies and purge runs (the seed's PACK UI)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from chalicelib.api.blueprint import ApiBlueprint
from chalicelib.deps import get_deps
from chalicelib.domain.common import PageOf, Role, page_body
from chalicelib.errors import ValidationFailed
from chalicelib.http import Call, Reply, endpoint, path_id
from chalicelib.shield import shield

if TYPE_CHECKING:
    from chalicelib.domain.retention import PurgeRun, RetentionPolicy, RetentionPreview, SetPolicy, StartPurge
    from chalicelib.domain.schema import PageQuery

retention_api = ApiBlueprint(__name__, "/system/retention")


def path_category(raw: str) -> str:
    from chalicelib.domain.retention import CATEGORY_PATTERN

    if not re.match(CATEGORY_PATTERN, raw):  # re keeps the compiled pattern
        raise ValidationFailed.single(
            ["path", "category"], "Must be a lowercase identifier (a-z, 0-9, _; at most 64).", "string_pattern_mismatch"
        )
    return raw


@retention_api.route("/", methods=["POST"])
@endpoint(retention_api, role=Role.admin, status=201, body="retention.SetPolicy", response="retention.RetentionPolicy")
@shield
def set_policy(call: Call) -> Reply:
    """Create or update the retention policy of a category (201 created, 200 updated)."""
    change: SetPolicy = call.body()
    created, policy = get_deps().retention.set_policy(change)
    call.audit(
        "retention.policy.create" if created else "retention.policy.update",
        "retention_policy",
        policy.category,
        change.model_dump(mode="json", exclude_unset=True),
    )
    return Reply(policy, 201 if created else 200)


@retention_api.route("/", methods=["GET"])
@endpoint(retention_api, role=Role.viewer, query="schema.PageQuery", response=PageOf("retention.RetentionPolicy"))
def list_policies(call: Call) -> dict[str, Any]:
    """List retention policies, by category."""
    page: PageQuery = call.query()
    return page_body(*get_deps().retention.page(page.limit, page.cursor))


@retention_api.route("/purge", methods=["POST"])
@endpoint(
    retention_api,
    role=Role.admin,
    status=202,
    body="retention.StartPurge",
    response="retention.PurgeRun",
    errors=(503,),
)
@shield
def start_purge(call: Call) -> PurgeRun:
    """Start a purge run in the background; follow it at /system/retention/runs/{id}."""
    request: StartPurge = call.body(optional=True)
    run = get_deps().retention.start_run(request.categories, request.dry_run, call.principal)
    call.audit(
        "retention.purge.start",
        "purge_run",
        run.id,
        {"categories": request.categories, "dry_run": request.dry_run},
    )
    return run


@retention_api.route("/runs", methods=["GET"])
@endpoint(retention_api, role=Role.viewer, query="schema.PageQuery", response=PageOf("retention.PurgeRun"))
def list_runs(call: Call) -> dict[str, Any]:
    """List purge runs, newest first."""
    page: PageQuery = call.query()
    return page_body(*get_deps().retention.page_runs(page.limit, page.cursor))


@retention_api.route("/runs/{run_id}", methods=["GET"])
@endpoint(retention_api, role=Role.viewer, response="retention.PurgeRun", errors=(404,))
def get_run(call: Call, run_id: str) -> PurgeRun:
    """One purge run: status, per-category counts, start and end."""
    return get_deps().retention.get_run(path_id(run_id, "run_id"))


@retention_api.route("/{category}", methods=["GET"])
@endpoint(retention_api, role=Role.viewer, response="retention.RetentionPolicy", errors=(404,))
def get_policy(call: Call, category: str) -> RetentionPolicy:
    """The retention policy of one category."""
    return get_deps().retention.get(path_category(category))


@retention_api.route("/{category}/preview", methods=["GET"])
@endpoint(retention_api, role=Role.viewer, response="retention.RetentionPreview", errors=(404,))
def preview_policy(call: Call, category: str) -> RetentionPreview:
    """How many records the policy would delete now, and the oldest one's time; deletes nothing."""
    return get_deps().retention.preview(path_category(category))
