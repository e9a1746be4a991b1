"""Notification channels' data access, and the one place a channel's signing secret is stored.

Channels are few and rarely written; the hot path (enqueue, delivery) reads them
through a per-container cache (:mod:`chalicelib.store.cache`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.store.base import conditional_failed, shared_connection
from chalicelib.store.cache import ConfigCache
from chalicelib.store.cursors import scope_of
from chalicelib.store.notifications import CHANNEL_KIND, ChannelItem, ChannelNameMarker, name_marker_key
from chalicelib.store.pagination import query_page

_cache: ConfigCache[int, ChannelItem] = ConfigCache()


class NameTaken(Exception):
    """Another channel has this name (case-insensitive)."""


class ChannelRepo:
    def create_unique(self, item: ChannelItem) -> None:
        """The channel and its name marker in one transaction: a name is taken once, race or not."""
        marker = ChannelNameMarker(name_marker_key(item.name), channel_id=item.id)
        connection = shared_connection()
        try:
            with TransactWrite(connection=connection) as transaction:
                transaction.save(marker, condition=ChannelNameMarker.name.does_not_exist())
                transaction.save(item, condition=ChannelItem.id.does_not_exist())
        except TransactWriteError as exc:
            reasons = [reason for reason in (exc.cancellation_reasons or []) if reason is not None]
            if any(reason.code == "ConditionalCheckFailed" for reason in reasons):
                raise NameTaken(item.name) from None
            raise
        _cache.put(int(item.id), item)

    def get(self, channel_id: int) -> ChannelItem | None:
        try:
            item = ChannelItem.get(channel_id)
        except DoesNotExist:
            return None
        _cache.put(channel_id, item)
        return item

    def cached(self, channel_id: int) -> ChannelItem | None:
        """The channel as this container last saw it, at most the config cache time ago."""
        return _cache.get(channel_id, lambda: self._load(channel_id))

    @staticmethod
    def _load(channel_id: int) -> ChannelItem | None:
        try:
            return ChannelItem.get(channel_id)
        except DoesNotExist:
            return None

    def update(self, item: ChannelItem, actions: list[Any], condition: Any) -> None:
        item.update(actions=actions, condition=condition)
        _cache.put(int(item.id), item)

    def set_active(self, channel_id: int, active: bool, reason: str | None, now: str) -> ChannelItem | None:
        """Switch a channel on or off (``reason`` kept on it, e.g. by channel health); None if it is gone."""
        item = ChannelItem(channel_id)
        actions: list[Any] = [
            ChannelItem.active.set(active),
            ChannelItem.active_state.set(str(active).lower()),
            ChannelItem.updated_at.set(now),
            ChannelItem.disabled_reason.set(reason) if reason else ChannelItem.disabled_reason.remove(),
        ]
        try:
            item.update(actions=actions, condition=ChannelItem.id.exists())
        except UpdateError as exc:
            if conditional_failed(exc):
                return None
            raise
        _cache.put(channel_id, item)
        return item

    def rotate_secret(self, item: ChannelItem, secret: str, expires_at: str, now: str) -> None:
        self.update(
            item,
            [
                ChannelItem.previous_secret.set(item.signing_secret),
                ChannelItem.previous_secret_expires_at.set(expires_at),
                ChannelItem.signing_secret.set(secret),
                ChannelItem.secret_rotated_at.set(now),
                ChannelItem.updated_at.set(now),
            ],
            ChannelItem.signing_secret == item.signing_secret,
        )

    def forget_previous_secret(self, item: ChannelItem) -> None:
        """Delete a rotated-out secret; a rotation that replaced it meanwhile leaves nothing to forget."""
        try:
            self.update(
                item,
                [ChannelItem.previous_secret.remove(), ChannelItem.previous_secret_expires_at.remove()],
                ChannelItem.previous_secret == item.previous_secret,
            )
        except UpdateError as exc:
            if not conditional_failed(exc):
                raise

    def page(self, channel_type: str | None, active: bool | None, limit: int, cursor: str | None, convert: Any) -> Any:
        def run(**page: Any) -> Any:
            if channel_type is not None:
                condition = None if active is None else ChannelItem.active == active
                return ChannelItem.by_type.query(channel_type, filter_condition=condition, **page)
            if active is not None:
                return ChannelItem.by_active.query(str(active).lower(), **page)
            return ChannelItem.by_kind.query(CHANNEL_KIND, **page)

        return query_page(run, limit, cursor, convert, scope_of("channels", channel_type=channel_type, active=active))

    def all(self) -> Iterator[ChannelItem]:
        """Every channel, by id, a page at a time (a query on ``by_kind``, never a Scan)."""
        yield from ChannelItem.by_kind.query(CHANNEL_KIND, page_size=100)
