"""Replays: re-queue failed notifications in bulk (or copy them to another channel)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.api.blueprint import ApiBlueprint
from chalicelib.deps import get_deps
from chalicelib.domain.common import PageOf, Role, page_body
from chalicelib.http import Call, endpoint, path_id
from chalicelib.shield import shield

if TYPE_CHECKING:
    from chalicelib.domain.replays import CreateReplay, ReplayView

replays_api = ApiBlueprint(__name__, "/system/notify/replays")


@replays_api.route("/", methods=["POST"])
@endpoint(
    replays_api,
    role=Role.operator,
    status=202,
    body="replays.CreateReplay",
    response="replays.ReplayView",
    errors=(404,),
)
@shield
def create_replay(call: Call) -> ReplayView:
    """Start a replay: every matching notification re-queued (or copied with to_channel_id)."""
    request: CreateReplay = call.body()
    view = get_deps().replays.create(request, call.principal)
    call.audit("replay.create", "notification_replay", view.id, request.model_dump(mode="json"))
    return view


@replays_api.route("/", methods=["GET"])
@endpoint(replays_api, role=Role.viewer, query="replays.ReplayQuery", response=PageOf("replays.ReplayView"))
def list_replays(call: Call) -> dict[str, Any]:
    """List replays, newest first."""
    return page_body(*get_deps().replays.page(call.query()))


@replays_api.route("/{replay_id}", methods=["GET"])
@endpoint(replays_api, role=Role.viewer, response="replays.ReplayView", errors=(404,))
def get_replay(call: Call, replay_id: str) -> ReplayView:
    """One replay and its progress."""
    return get_deps().replays.get(path_id(replay_id, "replay_id"))


@replays_api.route("/{replay_id}/cancel", methods=["POST"])
@endpoint(replays_api, role=Role.operator, response="replays.ReplayView", errors=(404, 409))
@shield
def cancel_replay(call: Call, replay_id: str) -> ReplayView:
    """Cancel a pending or running replay (what it re-queued already stays re-queued)."""
    identifier = path_id(replay_id, "replay_id")
    view = get_deps().replays.cancel(identifier)
    call.audit("replay.cancel", "notification_replay", identifier, None)
    return view
