"""Retention policies (one item per category) and purge runs.

A policy's hash key is its ``category``, so DynamoDB itself keeps one policy per
category; the ``by_kind`` index lists the (small) registry in category order
without a Scan. Runs are keyed by their integer id; ``by_created`` lists them
newest first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.store.base import StoredModel, TableMeta, conditional_failed, register
from chalicelib.store.pagination import query_page

POLICY_KIND = "policy"
RUN_KIND = "purge_run"


class PoliciesByKind(GlobalSecondaryIndex["PolicyItem"]):
    class Meta:
        index_name = "by_kind"
        projection = AllProjection()

    kind = UnicodeAttribute(hash_key=True)
    category = UnicodeAttribute(range_key=True)


@register
class PolicyItem(StoredModel):
    class Meta(TableMeta):
        logical_name = "data_retention_policies"

    category = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute(default=POLICY_KIND)
    id = NumberAttribute()
    days_to_keep = NumberAttribute()
    enabled = BooleanAttribute(default=True)
    archive = BooleanAttribute(default=False)
    description = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()

    by_kind = PoliciesByKind()


class RunsByCreated(GlobalSecondaryIndex["PurgeRunItem"]):
    class Meta:
        index_name = "by_created"
        projection = AllProjection()

    kind = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


@register
class PurgeRunItem(StoredModel):
    class Meta(TableMeta):
        logical_name = "purge_runs"

    id = NumberAttribute(hash_key=True)
    kind = UnicodeAttribute(default=RUN_KIND)
    status = UnicodeAttribute()
    dry_run = BooleanAttribute(default=False)
    trigger = UnicodeAttribute()
    requested_by = UnicodeAttribute()
    # One entry per category: the public result plus the worker's position (``state``).
    steps = JSONAttribute(default=list)
    reason = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    started_at = UnicodeAttribute(null=True)
    ended_at = UnicodeAttribute(null=True)
    # The worker holding the run, and until when (a conditional update claims it).
    lease_owner = UnicodeAttribute(null=True)
    lease_until = UnicodeAttribute(null=True)

    by_created = RunsByCreated()


# The fields of a policy a change may set; ``None`` for the description removes it.
POLICY_FIELDS = ("days_to_keep", "enabled", "archive", "description")


class PolicyRepo:
    """The policy registry: one item per category, created and changed conditionally."""

    def get(self, category: str) -> PolicyItem | None:
        try:
            return PolicyItem.get(category, consistent_read=True)
        except PolicyItem.DoesNotExist:
            return None

    def create(self, item: PolicyItem) -> bool:
        """Write a new policy; False when the category already has one."""
        try:
            item.save(condition=PolicyItem.category.does_not_exist())
        except PutError as exc:
            if not conditional_failed(exc):
                raise
            return False
        return True

    def update(self, category: str, changes: dict[str, Any], updated_at: str) -> PolicyItem | None:
        """Set the given fields of an existing policy; None when the category has none."""
        actions: list[Any] = [PolicyItem.updated_at.set(updated_at)]
        for name in POLICY_FIELDS:
            if name in changes:
                attribute = getattr(PolicyItem, name)
                value = changes[name]
                actions.append(attribute.remove() if value is None else attribute.set(value))
        item = PolicyItem(category)
        try:
            item.update(actions=actions, condition=PolicyItem.category.exists())
        except UpdateError as exc:
            if conditional_failed(exc):
                return None
            raise
        return item

    def page(self, limit: int, cursor: str | None, view: Callable[[PolicyItem], Any]) -> tuple[list[Any], str | None]:
        return query_page(
            lambda **page: PolicyItem.by_kind.query(POLICY_KIND, **page), limit, cursor, view, "retention_policies"
        )

    def all(self) -> list[PolicyItem]:
        return list(PolicyItem.by_kind.query(POLICY_KIND))


class PurgeRunRepo:
    """Purge runs: created once, then advanced by the worker holding the run's lease."""

    def create(self, item: PurgeRunItem) -> None:
        item.save(condition=PurgeRunItem.id.does_not_exist())

    def get(self, run_id: int) -> PurgeRunItem | None:
        try:
            return PurgeRunItem.get(run_id, consistent_read=True)
        except PurgeRunItem.DoesNotExist:
            return None

    def page(self, limit: int, cursor: str | None, view: Callable[[PurgeRunItem], Any]) -> tuple[list[Any], str | None]:
        return query_page(
            lambda **page: PurgeRunItem.by_created.query(RUN_KIND, scan_index_forward=False, **page),
            limit,
            cursor,
            view,
            "purge_runs",
        )

    def fail(self, run_id: int, status: str, reason: str, ended_at: str) -> None:
        PurgeRunItem(run_id).update(
            actions=[
                PurgeRunItem.status.set(status),
                PurgeRunItem.reason.set(reason),
                PurgeRunItem.ended_at.set(ended_at),
            ]
        )

    def claim(
        self, run_id: int, token: str, until: str, now: str, open_statuses: tuple[str, ...]
    ) -> PurgeRunItem | None:
        """Lease an open run to ``token``; None when another holds it or it is finished."""
        item = PurgeRunItem(run_id)
        try:
            item.update(
                actions=[PurgeRunItem.lease_owner.set(token), PurgeRunItem.lease_until.set(until)],
                condition=(
                    PurgeRunItem.id.exists()
                    & (PurgeRunItem.lease_until.does_not_exist() | (PurgeRunItem.lease_until < now))
                    & PurgeRunItem.status.is_in(*open_statuses)
                ),
            )
        except UpdateError as exc:
            if not conditional_failed(exc):
                raise
            return None
        return item

    def release(self, item: PurgeRunItem, token: str) -> None:
        item.update(
            actions=[PurgeRunItem.lease_owner.remove(), PurgeRunItem.lease_until.remove()],
            condition=PurgeRunItem.lease_owner == token,
        )

    def save(
        self,
        item: PurgeRunItem,
        token: str,
        status: str,
        steps: list[dict[str, Any]],
        started_at: str,
        reason: str | None,
        ended_at: str | None,
        release: bool,
    ) -> None:
        """Write the run's progress, only while ``token`` holds its lease."""
        actions: list[Any] = [
            PurgeRunItem.status.set(status),
            PurgeRunItem.steps.set(steps),
            PurgeRunItem.started_at.set(started_at),
        ]
        actions.append(PurgeRunItem.reason.set(reason) if reason else PurgeRunItem.reason.remove())
        if ended_at:
            actions.append(PurgeRunItem.ended_at.set(ended_at))
        if release:
            actions += [PurgeRunItem.lease_owner.remove(), PurgeRunItem.lease_until.remove()]
        item.update(actions=actions, condition=PurgeRunItem.lease_owner == token)
