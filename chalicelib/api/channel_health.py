"""A channel's health (the circuit breaker) and the endpoint that switches a disabled channel back on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.api.blueprint import ApiBlueprint
from chalicelib.deps import get_deps
from chalicelib.domain.common import Role
from chalicelib.http import Call, endpoint, path_id
from chalicelib.shield import shield

if TYPE_CHECKING:
    from chalicelib.domain.health import HealthView

channel_health_api = ApiBlueprint(__name__, "/system/notify")


@channel_health_api.route("/channels/{channel_id}/health", methods=["GET"])
@endpoint(channel_health_api, role=Role.viewer, response="health.HealthView", errors=(404,))
def channel_health(call: Call, channel_id: str) -> HealthView:
    """The channel's breaker state, failure rate and attempts in the window."""
    identifier = path_id(channel_id, "channel_id")
    deps = get_deps()
    deps.notifications.get_channel(identifier)  # 404 for an unknown channel
    return deps.channel_health.view(identifier)


@channel_health_api.route("/channels/{channel_id}/enable", methods=["POST"])
@endpoint(channel_health_api, role=Role.admin, response="health.HealthView", errors=(404,))
@shield
def enable_channel(call: Call, channel_id: str) -> HealthView:
    """Switch a channel back on and reset its health (after an auto-disable)."""
    identifier = path_id(channel_id, "channel_id")
    view = get_deps().channel_health.enable(identifier)
    call.audit("channel.enable", "notification_channel", identifier, None)
    return view
