"""Notification channels: create, read, change, rotate a webhook's secret (the seed's PACK UG)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from chalicelib.channels.base import ChannelConfig, DeliveryFailed
from chalicelib.channels.secret_box import SecretBox, SecretBoxError
from chalicelib.channels.webhook import new_secret
from chalicelib.clock import Clock, isoformat, parse_iso
from chalicelib.domain.errors import Conflict, InvalidField, NotFound
from chalicelib.domain.notifications import (
    PREVIOUS_SECRET_HOURS,
    ChannelQuery,
    ChannelType,
    ChannelView,
    CreateChannel,
    CreatedChannel,
    RotatedSecret,
    UpdateChannel,
    address_problem,
    literal_ip,
    redact_target,
    target_problem,
)
from chalicelib.settings import Settings
from chalicelib.store.channels import ChannelRepo, NameTaken
from chalicelib.store.counters import IdAllocator
from chalicelib.store.notifications import CHANNEL_KIND, ChannelItem

CHANNEL_COUNTER = "notification_channels"


def channel_view(item: ChannelItem) -> ChannelView:
    return ChannelView(
        id=int(item.id),
        name=item.name,
        channel_type=ChannelType(item.channel_type),
        target=item.target,
        active=bool(item.active),
        description=item.description,
        created_at=parse_iso(item.created_at),
        updated_at=parse_iso(item.updated_at),
        secret_rotated_at=parse_iso(item.secret_rotated_at) if item.secret_rotated_at else None,
        rate_limit_per_second=int(item.rate_limit_per_second) if item.rate_limit_per_second is not None else None,
    )


class Channels:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        ids: IdAllocator,
        repo: ChannelRepo | None = None,
        secret_box: SecretBox | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.ids = ids
        self.repo = repo or ChannelRepo()
        self._secret_box = secret_box

    @property
    def secret_box(self) -> SecretBox:
        """Signing secrets are sealed with KMS before they are stored (envelope encryption)."""
        if self._secret_box is None:
            from chalicelib import aws

            self._secret_box = SecretBox(lambda: aws.client("kms"), self.settings.signing_key_id)
        return self._secret_box

    def check_target(self, channel_type: ChannelType, target: str) -> None:
        allow_private = self.settings.allow_private_webhook_targets
        problem = target_problem(channel_type, target, allow_http=allow_private)
        if problem is None and channel_type is ChannelType.webhook and not allow_private:
            host = (urlsplit(target).hostname or "").rstrip(".").lower()
            literal = literal_ip(host)
            if literal is not None:
                reason = address_problem(str(literal))
                if reason:
                    problem = f"Refused: {reason}."
            elif host == "localhost" or host.endswith(".localhost"):
                problem = "Refused: localhost is a loopback address."
        if problem:
            raise InvalidField("target", problem)

    def create(self, request: CreateChannel) -> CreatedChannel:
        self.check_target(request.channel_type, request.target)
        now = isoformat(self.clock())
        secret = new_secret() if request.channel_type is ChannelType.webhook else None
        channel_id = self.ids.next_id(CHANNEL_COUNTER)
        item = ChannelItem(
            channel_id,
            kind=CHANNEL_KIND,
            name=request.name,
            channel_type=request.channel_type.value,
            target=request.target,
            active=request.active,
            active_state=str(request.active).lower(),
            description=request.description,
            created_at=now,
            updated_at=now,
            signing_secret=self.secret_box.seal(channel_id, secret) if secret else None,
            rate_limit_per_second=request.rate_limit_per_second,
        )
        try:
            self.repo.create_unique(item)
        except NameTaken:
            raise Conflict(f"A channel named {request.name!r} already exists.") from None
        return CreatedChannel(**channel_view(item).model_dump(), signing_secret=secret)

    def item(self, channel_id: int) -> ChannelItem:
        item = self.repo.get(channel_id)
        if item is None:
            raise NotFound(f"Channel {channel_id} not found.")
        return item

    def cached(self, channel_id: int) -> ChannelItem:
        """The channel for the hot path (enqueue): at most the config cache time old."""
        item = self.repo.cached(channel_id)
        if item is None:
            raise NotFound(f"Channel {channel_id} not found.")
        return item

    def get(self, channel_id: int) -> ChannelView:
        return channel_view(self.item(channel_id))

    def page(self, query: ChannelQuery) -> tuple[list[ChannelView], str | None]:
        channel_type = query.channel_type.value if query.channel_type is not None else None
        result: tuple[list[ChannelView], str | None] = self.repo.page(
            channel_type, query.active, query.limit, query.cursor, channel_view
        )
        return result

    def update(self, channel_id: int, change: UpdateChannel) -> ChannelView:
        item = self.item(channel_id)
        fields = change.model_fields_set
        actions: list[Any] = [ChannelItem.updated_at.set(isoformat(self.clock()))]
        if "target" in fields and change.target is not None:
            self.check_target(ChannelType(item.channel_type), change.target)
            actions.append(ChannelItem.target.set(change.target))
        if "active" in fields and change.active is not None:
            actions.append(ChannelItem.active.set(change.active))
            actions.append(ChannelItem.active_state.set(str(change.active).lower()))
        if "description" in fields:
            actions.append(
                ChannelItem.description.set(change.description)
                if change.description is not None
                else ChannelItem.description.remove()
            )
        if "rate_limit_per_second" in fields:
            limit = change.rate_limit_per_second
            actions.append(
                ChannelItem.rate_limit_per_second.set(limit) if limit else ChannelItem.rate_limit_per_second.remove()
            )
        self.repo.update(item, actions, ChannelItem.id.exists())
        return channel_view(item)

    def rotate_secret(self, channel_id: int) -> RotatedSecret:
        item = self.item(channel_id)
        if item.channel_type != ChannelType.webhook.value:
            raise Conflict(f"Channel {channel_id} is a {item.channel_type} channel; only webhooks have a secret.")
        now = self.clock()
        expires = now + timedelta(hours=PREVIOUS_SECRET_HOURS)
        secret = new_secret()
        self.repo.rotate_secret(item, self.secret_box.seal(channel_id, secret), isoformat(expires), isoformat(now))
        return RotatedSecret(id=channel_id, signing_secret=secret, previous_secret_expires_at=expires)

    def snapshot(self) -> list[dict[str, Any]]:
        """Every channel as a configuration snapshot shows it: no secret, no token in a URL."""
        rendered = []
        for item in self.repo.all():
            view = channel_view(item).model_dump(mode="json")
            view["target"] = redact_target(ChannelType(item.channel_type), item.target)
            view["signing_secret"] = "[redacted]" if item.signing_secret else None
            rendered.append(view)
        return rendered

    def delivery_config(self, channel_id: int) -> ChannelConfig | DeliveryFailed:
        """What a driver needs to send through a channel, from the cache; a failure if it cannot."""
        channel = self.repo.cached(channel_id)
        if channel is None:
            return DeliveryFailed(f"Channel {channel_id} no longer exists.", permanent=True)
        if not channel.active:
            why = f" It was disabled by its health check: {channel.disabled_reason}" if channel.disabled_reason else ""
            return DeliveryFailed(f"Channel {int(channel.id)} is inactive.{why}", permanent=True)
        secrets_in_use: list[str] = []
        try:
            if channel.signing_secret:
                secrets_in_use.append(self.secret_box.open(int(channel.id), channel.signing_secret))
            if channel.previous_secret:
                expires = channel.previous_secret_expires_at
                if expires and expires > isoformat(self.clock()):
                    secrets_in_use.append(self.secret_box.open(int(channel.id), channel.previous_secret))
                else:
                    # The overlap after a rotation is over: the previous secret is deleted, not just unused.
                    self.repo.forget_previous_secret(channel)
        except SecretBoxError as exc:
            return DeliveryFailed(f"The channel's signing secret cannot be read: {exc}", permanent=False)
        return ChannelConfig(
            id=int(channel.id),
            name=channel.name,
            channel_type=channel.channel_type,
            target=channel.target,
            signing_secrets=tuple(secrets_in_use),
            rate_limit_per_second=int(channel.rate_limit_per_second) if channel.rate_limit_per_second else None,
        )
