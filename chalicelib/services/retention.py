"""Retention policies (the registry and previews) and the service that adds purge runs to them.

The run state machine lives in :mod:`chalicelib.services.purge_runs`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

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
from chalicelib.store.counters import IdAllocator
from chalicelib.store.retention import PolicyItem, PolicyRepo, PurgeRunRepo

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
        policies: PolicyRepo | None = None,
        runs: PurgeRunRepo | None = None,
    ) -> None:
        self.policies = policies or PolicyRepo()
        self.runs = runs or PurgeRunRepo()
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
        changes = {name: getattr(change, name) for name in given if name != "category"}
        changes["days_to_keep"] = change.days_to_keep
        if "description" in changes:
            changes["description"] = change.description or None  # an empty description removes it
        for _attempt in range(3):
            updated = self.policies.update(change.category, changes, now)
            if updated is not None:
                return False, _policy_view(updated, self.purgers.purgeable(updated.category))
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
            if self.policies.create(item):
                return True, _policy_view(item, self.purgers.purgeable(item.category))
            # created concurrently: update it instead
        raise Busy("The policy changed concurrently; retry.", retry_after=1)

    def _item(self, category: str) -> PolicyItem:
        item = self.policies.get(category)
        if item is None:
            raise NotFound(f"No retention policy for category '{category}'.")
        return item

    def get(self, category: str) -> RetentionPolicy:
        item = self._item(category)
        return _policy_view(item, self.purgers.purgeable(category))

    def page(self, limit: int, cursor: str | None) -> tuple[list[RetentionPolicy], str | None]:
        return self.policies.page(limit, cursor, lambda item: _policy_view(item, self.purgers.purgeable(item.category)))

    def _all_policies(self) -> list[PolicyItem]:
        return self.policies.all()

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
