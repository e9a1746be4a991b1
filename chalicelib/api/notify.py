"""Notification channels and the outbox (the seed's PACK UG)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.api.blueprint import ApiBlueprint
from chalicelib.deps import get_deps
from chalicelib.domain.common import PageOf, Role, page_body
from chalicelib.http import Call, Reply, endpoint, path_id
from chalicelib.shield import shield

if TYPE_CHECKING:
    from chalicelib.domain.notifications import (
        ChannelView,
        CreateChannel,
        CreatedChannel,
        EnqueueNotification,
        NotificationDetail,
        NotificationView,
        RotatedSecret,
        UpdateChannel,
    )

notify_api = ApiBlueprint(__name__, "/system/notify")


@notify_api.route("/channels", methods=["POST"])
@endpoint(
    notify_api,
    role=Role.admin,
    status=201,
    body="notifications.CreateChannel",
    response="notifications.CreatedChannel",
    errors=(409,),
)
@shield
def create_channel(call: Call) -> CreatedChannel:
    """Create a channel; a webhook's signing secret is in this response only."""
    request: CreateChannel = call.body()
    created = get_deps().notifications.create_channel(request)
    call.audit(
        "channel.create",
        "notification_channel",
        created.id,
        {"name": created.name, "channel_type": created.channel_type.value, "active": created.active},
    )
    return created


@notify_api.route("/channels", methods=["GET"])
@endpoint(
    notify_api, role=Role.viewer, query="notifications.ChannelQuery", response=PageOf("notifications.ChannelView")
)
def list_channels(call: Call) -> dict[str, Any]:
    """List channels by id, filtered by active and channel_type (below admin, webhook URLs without path and query)."""
    from chalicelib.domain.disclosure import channel_for

    channels, cursor = get_deps().notifications.list_channels(call.query())
    return page_body([channel_for(call.principal.role, channel) for channel in channels], cursor)


@notify_api.route("/channels/{channel_id}", methods=["GET"])
@endpoint(notify_api, role=Role.viewer, response="notifications.ChannelView", errors=(404,))
def get_channel(call: Call, channel_id: str) -> ChannelView:
    """One channel (never its signing secret; below admin, a webhook URL without its path and query)."""
    from chalicelib.domain.disclosure import channel_for

    return channel_for(call.principal.role, get_deps().notifications.get_channel(path_id(channel_id, "channel_id")))


@notify_api.route("/channels/{channel_id}", methods=["PATCH"])
@endpoint(
    notify_api, role=Role.admin, body="notifications.UpdateChannel", response="notifications.ChannelView", errors=(404,)
)
@shield
def update_channel(call: Call, channel_id: str) -> ChannelView:
    """Change a channel's target, active flag or description."""
    identifier = path_id(channel_id, "channel_id")
    change: UpdateChannel = call.body()
    updated = get_deps().notifications.update_channel(identifier, change)
    call.audit("channel.update", "notification_channel", identifier, change.model_dump(mode="json", exclude_unset=True))
    return updated


@notify_api.route("/channels/{channel_id}/rotate-secret", methods=["POST"])
@endpoint(notify_api, role=Role.admin, response="notifications.RotatedSecret", errors=(404, 409))
@shield
def rotate_secret(call: Call, channel_id: str) -> RotatedSecret:
    """New webhook signing secret, returned once; the old one keeps signing for 24 hours."""
    identifier = path_id(channel_id, "channel_id")
    rotated = get_deps().notifications.rotate_secret(identifier)
    call.audit("channel.rotate_secret", "notification_channel", identifier, None)
    return rotated


@notify_api.route("/", methods=["POST"])
@endpoint(
    notify_api,
    role=Role.operator,
    status=201,
    body="notifications.EnqueueNotification",
    response="notifications.NotificationView",
    errors=(404, 409, 413),
)
@shield
def enqueue(call: Call) -> Reply:
    """Enqueue a notification to the outbox (pending); honours Idempotency-Key."""
    request: EnqueueNotification = call.body()

    def audit(view: NotificationView) -> None:
        call.audit(
            "notification.enqueue", "notification", view.id, {"channel_id": view.channel_id, "subject": view.subject}
        )

    answer = get_deps().notifications.enqueue_once(
        request, call.principal, call.header("Idempotency-Key"), call.raw_body, on_created=audit
    )
    return Reply(answer, 201)


@notify_api.route("/", methods=["GET"])
@endpoint(
    notify_api,
    role=Role.viewer,
    query="notifications.NotificationQuery",
    response=PageOf("notifications.NotificationView"),
)
def list_notifications(call: Call) -> dict[str, Any]:
    """List notifications newest first, filtered by status and channel_id."""
    from chalicelib.domain.disclosure import notification_for

    notifications, cursor = get_deps().notifications.list_notifications(call.query())
    return page_body([notification_for(call.principal.role, view) for view in notifications], cursor)


@notify_api.route("/{notification_id}", methods=["GET"])
@endpoint(notify_api, role=Role.viewer, response="notifications.NotificationDetail", errors=(404,))
def get_notification(call: Call, notification_id: str) -> NotificationDetail:
    """One notification with its attempt history (a receiver's answer in its errors: admins only)."""
    from chalicelib.domain.disclosure import notification_for

    detail = get_deps().notifications.get_notification(path_id(notification_id, "notification_id"))
    return notification_for(call.principal.role, detail)


@notify_api.route("/{notification_id}/retry", methods=["POST"])
@endpoint(notify_api, role=Role.operator, response="notifications.NotificationView", errors=(404, 409))
@shield
def retry(call: Call, notification_id: str) -> NotificationView:
    """Send a failed notification again (back to pending; attempts keep counting)."""
    from chalicelib.domain.disclosure import notification_for

    identifier = path_id(notification_id, "notification_id")
    view = get_deps().notifications.retry(identifier)
    call.audit("notification.retry", "notification", identifier, None)
    return notification_for(call.principal.role, view)
