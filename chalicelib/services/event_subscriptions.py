"""Event subscriptions: their CRUD, and the per-container cache that emitting reads.

Emitting reads subscriptions through :class:`SubscriptionCache`: one query of the whole
(small) table per container per ``VALHALLA_CONFIG_CACHE_SECONDS`` (0: every emit
reads), refreshed at once by a write through the same container. Other containers
see a change within that bound.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.clock import Clock, isoformat, parse_iso
from chalicelib.domain import event_filters
from chalicelib.domain.errors import Conflict, InvalidField, NotFound, Problem
from chalicelib.domain.event_subscriptions import (
    CreateSubscription,
    SubscriptionView,
    UpdateSubscription,
)
from chalicelib.domain.events import any_pattern_matches
from chalicelib.store.counters import IdAllocator
from chalicelib.store.event_subscriptions import KIND, NameTaken, SubscriptionItem, SubscriptionRepo

COUNTER = "event_subscriptions"


@dataclass(frozen=True)
class Subscription:
    id: int
    channel_ids: tuple[int, ...]
    event_types: tuple[str, ...]
    filter: dict[str, Any] | None
    enabled: bool

    def wants(self, event: dict[str, Any]) -> bool:
        return (
            self.enabled
            and any_pattern_matches(list(self.event_types), str(event.get("type")))
            and event_filters.matches(self.filter, event)
        )


def _snapshot(item: SubscriptionItem) -> Subscription:
    return Subscription(
        id=int(item.id),
        channel_ids=tuple(int(channel) for channel in item.channel_ids or []),
        event_types=tuple(item.event_types or []),
        filter=item.filter,
        enabled=bool(item.enabled),
    )


def subscription_view(item: SubscriptionItem) -> SubscriptionView:
    return SubscriptionView(
        id=int(item.id),
        name=item.name,
        channel_ids=[int(channel) for channel in item.channel_ids or []],
        event_types=list(item.event_types or []),
        filter=item.filter,
        enabled=bool(item.enabled),
        created_at=parse_iso(item.created_at),
        updated_at=parse_iso(item.updated_at),
    )


class SubscriptionCache:
    def __init__(self, repo: SubscriptionRepo, seconds: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.repo = repo
        self.seconds = seconds
        self.monotonic = monotonic
        self._cached: list[Subscription] | None = None
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def current(self) -> list[Subscription]:
        with self._lock:
            if self._cached is not None and self.monotonic() - self._fetched_at < self.seconds:
                return self._cached
            loaded = [_snapshot(item) for item in self.repo.all()]
            if self.seconds > 0:
                self._cached, self._fetched_at = loaded, self.monotonic()
            return loaded

    def forget(self) -> None:
        with self._lock:
            self._cached = None

    def targets_for(self, event: dict[str, Any]) -> list[str]:
        """``"<subscription>#<channel>"`` for every channel of every subscription that wants the event."""
        return [f"{sub.id}#{channel}" for sub in self.current() if sub.wants(event) for channel in sub.channel_ids]


class EventSubscriptions:
    def __init__(
        self,
        repo: SubscriptionRepo,
        cache: SubscriptionCache,
        ids: IdAllocator,
        clock: Clock,
        channel_exists: Callable[[int], bool],
    ) -> None:
        self.repo = repo
        self.cache = cache
        self.ids = ids
        self.clock = clock
        self.channel_exists = channel_exists

    def _check(self, channel_ids: list[int] | None, spec: Any, filter_given: bool) -> None:
        problems: list[Problem] = []
        for index, channel_id in enumerate(channel_ids or []):
            if not self.channel_exists(channel_id):
                problems.append(
                    Problem(("channel_ids", index), f"Channel {channel_id} does not exist.", "value_error.not_found")
                )
        if filter_given and spec is not None:
            problems += [
                Problem(tuple(loc), msg, "value_error.filter") for loc, msg in event_filters.check(spec, ["filter"])
            ]
        if problems:
            raise InvalidField.many(problems)

    def create(self, request: CreateSubscription) -> SubscriptionView:
        self._check(request.channel_ids, request.filter, True)
        now = isoformat(self.clock())
        item = SubscriptionItem(
            self.ids.next_id(COUNTER),
            kind=KIND,
            name=request.name,
            channel_ids=list(request.channel_ids),
            event_types=list(request.event_types),
            filter=request.filter,
            enabled=request.enabled,
            created_at=now,
            updated_at=now,
        )
        try:
            self.repo.create(item)
        except NameTaken:
            raise Conflict(f"A subscription named {request.name!r} already exists.") from None
        self.cache.forget()
        return subscription_view(item)

    def _item(self, subscription_id: int) -> SubscriptionItem:
        item = self.repo.get(subscription_id)
        if item is None:
            raise NotFound(f"Subscription {subscription_id} not found.")
        return item

    def get(self, subscription_id: int) -> SubscriptionView:
        return subscription_view(self._item(subscription_id))

    def snapshot(self, subscription_id: int) -> Subscription:
        return _snapshot(self._item(subscription_id))

    def page(self, limit: int, cursor: str | None) -> tuple[list[SubscriptionView], str | None]:
        items, next_cursor = self.repo.page(limit, cursor)
        return [subscription_view(item) for item in items], next_cursor

    def update(self, subscription_id: int, change: UpdateSubscription) -> SubscriptionView:
        item = self._item(subscription_id)
        fields = change.model_fields_set
        self._check(change.channel_ids if "channel_ids" in fields else None, change.filter, "filter" in fields)
        changes: dict[str, Any] = {"updated_at": isoformat(self.clock())}
        for name in ("channel_ids", "event_types", "filter", "enabled"):
            if name in fields:
                changes[name] = getattr(change, name)
        if not self.repo.update(item, changes):
            raise NotFound(f"Subscription {subscription_id} not found.")
        self.cache.forget()
        return subscription_view(item)

    def delete(self, subscription_id: int) -> None:
        self.repo.delete(self._item(subscription_id))
        self.cache.forget()
