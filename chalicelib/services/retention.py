"""Retention policies (the registry and previews) and the service that adds purge runs to them.

The run state machine lives in :mod:`chalicelib.services.purge_runs`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pynamodb.exceptions import PutError, UpdateError

from chalicelib.clock import Clock, isoformat, parse_iso
from chalicelib.domain.errors import Busy, InvalidField, NotFound
from chalicelib.domain.retention import (
    RetentionPolicy,
    RetentionPreview,
    SetPolicy,
    cutoff_for,
)
from chalicelib.purge.engine import DynamoPurgeEngine
from chalicelib.purge.purgers import Purgers
from chalicelib.purge.queue import PurgeQueue
from chalicelib.services.purge_runs import Audit, Maintenance, PurgeRuns
from chalicelib.store.base import conditional_failed
from chalicelib.store.counters import IdAllocator
from chalicelib.store.pagination import query_page
from chalicelib.store.retention import POLICY_KIND, PolicyItem

LEASE_MARGIN_SECONDS = 30


def _policy_view(item: PolicyItem, purgeable: bool) -> RetentionPolicy:
    return RetentionPolicy(
        id=int(item.id),
        category=item.category,
        days_to_keep=int(item.days_to_keep),
        enabled=bool(item.enabled),
        description=item.description,
        archive=bool(item.archive),
        purgeable=purgeable,
        created_at=parse_iso(item.created_at),
        updated_at=parse_iso(item.updated_at),
    )


class RetentionService(PurgeRuns):
    """The registry of policies and previews here; purge runs from :class:`PurgeRuns`."""

    def __init__(
        self,
        ids: IdAllocator,
        clock: Clock,
        purgers: Purgers,
        engine: Callable[[], DynamoPurgeEngine],
        queue: PurgeQueue,
        maintenance: Maintenance,
        audit: Audit,
        exports: Callable[[], Any],
        archive_poll_seconds: int = 60,
    ) -> None:
        self.ids = ids
        self.clock = clock
        self.purgers = purgers
        self._engine = engine
        self.queue = queue
        self.maintenance = maintenance
        self.audit = audit
        self.exports = exports
        self.archive_poll_seconds = archive_poll_seconds

    @property
    def engine(self) -> DynamoPurgeEngine:
        return self._engine()

    # --- the registry --------------------------------------------------------------

    def set_policy(self, change: SetPolicy) -> tuple[bool, RetentionPolicy]:
        """Create the category's policy or update it; ``True`` when it was created."""
        given = change.model_fields_set
        if change.archive and self.purgers.export_type(change.category) is None:
            raise InvalidField(
                "archive",
                f"Category '{change.category}' has no export job type to archive to; "
                "archive is possible for audit_logs and notifications.",
            )
        now = isoformat(self.clock())
        for _attempt in range(3):
            updated = self._update_policy(change, given, now)
            if updated is not None:
                return False, updated
            item = PolicyItem(
                change.category,
                id=self.ids.next_id("data_retention_policies"),
                days_to_keep=change.days_to_keep,
                enabled=change.enabled,
                archive=change.archive,
                description=change.description,
                created_at=now,
                updated_at=now,
            )
            try:
                item.save(condition=PolicyItem.category.does_not_exist())
            except PutError as exc:
                if not conditional_failed(exc):
                    raise
                continue  # created concurrently: update it instead
            return True, _policy_view(item, self.purgers.purgeable(item.category))
        raise Busy("The policy changed concurrently; retry.", retry_after=1)

    def _update_policy(self, change: SetPolicy, given: set[str], now: str) -> RetentionPolicy | None:
        actions: list[Any] = [PolicyItem.days_to_keep.set(change.days_to_keep), PolicyItem.updated_at.set(now)]
        if "enabled" in given:
            actions.append(PolicyItem.enabled.set(change.enabled))
        if "archive" in given:
            actions.append(PolicyItem.archive.set(change.archive))
        if "description" in given:
            description = change.description
            actions.append(PolicyItem.description.set(description) if description else PolicyItem.description.remove())
        item = PolicyItem(change.category)
        try:
            item.update(actions=actions, condition=PolicyItem.category.exists())
        except UpdateError as exc:
            if conditional_failed(exc):
                return None
            raise
        return _policy_view(item, self.purgers.purgeable(item.category))

    def _item(self, category: str) -> PolicyItem:
        try:
            return PolicyItem.get(category, consistent_read=True)
        except PolicyItem.DoesNotExist:
            raise NotFound(f"No retention policy for category '{category}'.") from None

    def get(self, category: str) -> RetentionPolicy:
        item = self._item(category)
        return _policy_view(item, self.purgers.purgeable(category))

    def page(self, limit: int, cursor: str | None) -> tuple[list[RetentionPolicy], str | None]:
        return query_page(
            lambda **page: PolicyItem.by_kind.query(POLICY_KIND, **page),
            limit,
            cursor,
            lambda item: _policy_view(item, self.purgers.purgeable(item.category)),
            "retention_policies",
        )

    def _all_policies(self) -> list[PolicyItem]:
        return list(PolicyItem.by_kind.query(POLICY_KIND))

    # --- preview ---------------------------------------------------------------------

    def preview(self, category: str) -> RetentionPreview:
        """How many records the policy would delete now, and the oldest one's time."""
        item = self._item(category)
        cutoff = cutoff_for(self.clock(), int(item.days_to_keep))
        purger = self.purgers.get(category)
        purgeable = purger is not None and purger.available()
        count: int | None = None
        oldest: datetime | None = None
        if purger is not None and purgeable:
            count, oldest = 0, None
            for source in purger.sources(isoformat(cutoff)):
                found = self.engine.count(source)
                if not found:
                    continue
                count += found
                first = self.engine.first(source)
                if first is not None:
                    moment = parse_iso(purger.moment(first))
                    oldest = moment if oldest is None or moment < oldest else oldest
        return RetentionPreview(
            category=category,
            days_to_keep=int(item.days_to_keep),
            enabled=bool(item.enabled),
            purgeable=purgeable,
            cutoff=cutoff,
            count=count,
            oldest=oldest,
        )

    # --- runs ------------------------------------------------------------------------
