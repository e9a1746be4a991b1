"""Retention policies and purge runs: the registry, previews, and processing a run.

A run is created ``pending`` (by the API or the daily schedule) with one step per
category: its cutoff is fixed then. A worker *claims* the run with a conditional
update (a lease), advances each step within its time budget, saves where it
stopped (the query position per category) and re-enqueues the run on the purge
queue; the next invocation continues there. When every step is finished the run
is ``completed`` (or ``failed`` when a step failed, e.g. its archive export) and
one audit event records its counts. In ``read_only``/``maintenance`` mode a run is
``skipped``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from pynamodb.exceptions import PutError, UpdateError

from chalicelib.clock import Clock, isoformat, parse_iso
from chalicelib.domain.common import SYSTEM_PRINCIPAL, Principal
from chalicelib.domain.errors import Busy, InvalidField, NotFound
from chalicelib.domain.maintenance import Mode
from chalicelib.domain.retention import (
    FINISHED_RUN,
    FINISHED_STEP,
    CategoryResult,
    PurgeRun,
    RetentionPolicy,
    RetentionPreview,
    RunStatus,
    SetPolicy,
    StepStatus,
    cutoff_for,
)
from chalicelib.logs import get_logger
from chalicelib.purge.budget import Budget
from chalicelib.purge.engine import DynamoPurgeEngine, Key, chunks
from chalicelib.purge.purgers import Purger, Purgers
from chalicelib.purge.queue import PurgeQueue
from chalicelib.store.base import conditional_failed
from chalicelib.store.counters import IdAllocator
from chalicelib.store.pagination import query_page
from chalicelib.store.retention import POLICY_KIND, RUN_KIND, PolicyItem, PurgeRunItem

THROTTLED_PAUSE_SECONDS = 10
LEASE_MARGIN_SECONDS = 30


class Maintenance(Protocol):
    def current(self) -> Any: ...


class Audit(Protocol):
    def record(
        self, principal: Principal, action: str, resource_type: str, resource_id: Any = None, summary: Any = None
    ) -> Any: ...


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


def _run_view(item: PurgeRunItem) -> PurgeRun:
    return PurgeRun(
        id=int(item.id),
        status=RunStatus(item.status),
        dry_run=bool(item.dry_run),
        trigger=item.trigger,
        requested_by=item.requested_by,
        categories=[CategoryResult.model_validate(step) for step in item.steps or []],
        reason=item.reason,
        created_at=parse_iso(item.created_at),
        started_at=parse_iso(item.started_at) if item.started_at else None,
        ended_at=parse_iso(item.ended_at) if item.ended_at else None,
    )


class _Progress:
    """What this invocation has done so far (at least one batch always goes through)."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.batches = 0

    def stop(self) -> bool:
        return self.batches > 0 and self.budget.exhausted()


class RetentionService:
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

    def create_run(
        self, categories: list[str] | None, dry_run: bool, requested_by: str, trigger: str = "api"
    ) -> PurgeRun:
        """A ``pending`` run over the named categories (every policy when ``None``)."""
        now = self.clock()
        if categories is None:
            policies = self._all_policies()
        else:
            policies = []
            for position, category in enumerate(categories):
                try:
                    policies.append(PolicyItem.get(category, consistent_read=True))
                except PolicyItem.DoesNotExist:
                    raise InvalidField(
                        ("categories", position), f"No retention policy for category '{category}'."
                    ) from None
        steps = [self._new_step(policy, now) for policy in policies]
        item = PurgeRunItem(
            self.ids.next_id("purge_runs"),
            status=RunStatus.pending.value,
            dry_run=dry_run,
            trigger=trigger,
            requested_by=requested_by,
            steps=steps,
            created_at=isoformat(now),
        )
        item.save(condition=PurgeRunItem.id.does_not_exist())
        return _run_view(item)

    def _new_step(self, policy: PolicyItem, now: datetime) -> dict[str, Any]:
        category = policy.category
        days = int(policy.days_to_keep)
        step: dict[str, Any] = {
            "category": category,
            "status": StepStatus.pending.value,
            "days_to_keep": days,
            "cutoff": isoformat(cutoff_for(now, days)),
            "archive": bool(policy.archive),
            "archive_job_id": None,
            "matched": 0,
            "deleted": 0,
            "objects_deleted": 0,
            "reason": None,
            "state": {"source": None, "key": None, "leftover": None},
        }
        if not policy.enabled:
            step.update(status=StepStatus.skipped.value, reason="The policy is disabled.")
        elif not self.purgers.purgeable(category):
            step.update(status=StepStatus.skipped.value, reason=self.purgers.reason(category))
        return step

    def start_run(self, categories: list[str] | None, dry_run: bool, principal: Principal) -> PurgeRun:
        """Create a run and queue it for the worker (never processed inside the request)."""
        run = self.create_run(categories, dry_run, requested_by=principal.name)
        try:
            self.queue.send(run.id)
        except Exception as exc:
            get_logger().exception("could not queue purge run", extra={"run_id": run.id})
            PurgeRunItem(run.id).update(
                actions=[
                    PurgeRunItem.status.set(RunStatus.failed.value),
                    PurgeRunItem.reason.set("The run could not be queued; start a new one."),
                    PurgeRunItem.ended_at.set(isoformat(self.clock())),
                ]
            )
            raise Busy("The purge queue is unavailable; retry shortly.") from exc
        return run

    def get_run(self, run_id: int) -> PurgeRun:
        try:
            return _run_view(PurgeRunItem.get(run_id, consistent_read=True))
        except PurgeRunItem.DoesNotExist:
            raise NotFound(f"Purge run {run_id} not found.") from None

    def page_runs(self, limit: int, cursor: str | None) -> tuple[list[PurgeRun], str | None]:
        return query_page(
            lambda **page: PurgeRunItem.by_created.query(RUN_KIND, scan_index_forward=False, **page),
            limit,
            cursor,
            _run_view,
            "purge_runs",
        )

    # --- processing a run (the worker) ---------------------------------------------------

    def process_run(self, run_id: int, budget: Budget) -> PurgeRun | None:
        """Advance the run as far as the budget allows; re-enqueue it when not finished.

        Returns the run as saved, or ``None`` when another invocation holds it or it is finished.
        """
        token = uuid.uuid4().hex
        item = self._claim(run_id, token, budget)
        if item is None:
            return None
        try:
            return self._process(item, token, budget)
        except Exception:
            # Let the next delivery of the message claim the run at once.
            try:
                item.update(
                    actions=[PurgeRunItem.lease_owner.remove(), PurgeRunItem.lease_until.remove()],
                    condition=PurgeRunItem.lease_owner == token,
                )
            except Exception:
                get_logger().exception("could not release the purge run", extra={"run_id": run_id})
            raise

    def _process(self, item: PurgeRunItem, token: str, budget: Budget) -> PurgeRun:
        run_id = int(item.id)
        now = self.clock()
        steps: list[dict[str, Any]] = [dict(step) for step in item.steps or []]
        started_at = item.started_at or isoformat(now)
        mode = self.maintenance.current().mode
        if mode is not Mode.normal:
            reason = f"Skipped: the system is in {mode.value} mode."
            for step in steps:
                if StepStatus(step["status"]) not in FINISHED_STEP:
                    step.update(status=StepStatus.skipped.value, reason=reason)
            return self._finish(item, token, steps, RunStatus.skipped, reason, started_at)

        progress = _Progress(budget)
        delay: int | None = None
        for step in steps:
            if StepStatus(step["status"]) in FINISHED_STEP:
                continue
            outcome = self._advance(item, token, step, steps, started_at, bool(item.dry_run), progress)
            if outcome == "paused":
                delay = 0
                break
            if outcome == "wait":
                delay = self.archive_poll_seconds if delay is None else min(delay, self.archive_poll_seconds)
            elif outcome == "throttled":
                delay = THROTTLED_PAUSE_SECONDS if delay is None else min(delay, THROTTLED_PAUSE_SECONDS)

        if all(StepStatus(step["status"]) in FINISHED_STEP for step in steps):
            failed = [step for step in steps if step["status"] == StepStatus.failed.value]
            why = "; ".join(f"{step['category']}: {step['reason']}" for step in failed) or None
            return self._finish(
                item, token, steps, RunStatus.failed if failed else RunStatus.completed, why, started_at
            )
        saved = self._save(item, token, steps, RunStatus.running, None, started_at, None, release=True)
        self.queue.send(run_id, delay or 0)
        return saved

    def _claim(self, run_id: int, token: str, budget: Budget) -> PurgeRunItem | None:
        now = self.clock()
        until = now + timedelta(seconds=budget.seconds_left() + LEASE_MARGIN_SECONDS)
        item = PurgeRunItem(run_id)
        try:
            item.update(
                actions=[PurgeRunItem.lease_owner.set(token), PurgeRunItem.lease_until.set(isoformat(until))],
                condition=(
                    PurgeRunItem.id.exists()
                    & (PurgeRunItem.lease_until.does_not_exist() | (PurgeRunItem.lease_until < isoformat(now)))
                    & PurgeRunItem.status.is_in(RunStatus.pending.value, RunStatus.running.value)
                ),
            )
        except UpdateError as exc:
            if not conditional_failed(exc):
                raise
            self._requeue_if_held(run_id)
            return None
        return item

    def _requeue_if_held(self, run_id: int) -> None:
        """Another invocation holds the run: look again when its lease ends (it may have died)."""
        try:
            current = PurgeRunItem.get(run_id, consistent_read=True)
        except PurgeRunItem.DoesNotExist:
            return
        if RunStatus(current.status) in FINISHED_RUN or not current.lease_until:
            return
        left = (parse_iso(current.lease_until) - self.clock()).total_seconds()
        self.queue.send(run_id, int(max(1, min(900, left + 1))))

    def _save(
        self,
        item: PurgeRunItem,
        token: str,
        steps: list[dict[str, Any]],
        status: RunStatus,
        reason: str | None,
        started_at: str,
        ended_at: str | None,
        release: bool,
    ) -> PurgeRun:
        actions: list[Any] = [
            PurgeRunItem.status.set(status.value),
            PurgeRunItem.steps.set(steps),
            PurgeRunItem.started_at.set(started_at),
        ]
        actions.append(PurgeRunItem.reason.set(reason) if reason else PurgeRunItem.reason.remove())
        if ended_at:
            actions.append(PurgeRunItem.ended_at.set(ended_at))
        if release:
            actions += [PurgeRunItem.lease_owner.remove(), PurgeRunItem.lease_until.remove()]
        item.update(actions=actions, condition=PurgeRunItem.lease_owner == token)
        return _run_view(item)

    def _finish(
        self,
        item: PurgeRunItem,
        token: str,
        steps: list[dict[str, Any]],
        status: RunStatus,
        reason: str | None,
        started_at: str,
    ) -> PurgeRun:
        run = self._save(item, token, steps, status, reason, started_at, isoformat(self.clock()), release=True)
        self.audit.record(
            SYSTEM_PRINCIPAL,
            "retention.purge.run",
            "purge_run",
            run.id,
            {
                "status": run.status.value,
                "dry_run": run.dry_run,
                "trigger": run.trigger,
                "requested_by": run.requested_by,
                "reason": run.reason,
                "categories": {
                    step.category: {
                        "status": step.status.value,
                        "matched": step.matched,
                        "deleted": step.deleted,
                        "objects_deleted": step.objects_deleted,
                        "archive_job_id": step.archive_job_id,
                    }
                    for step in run.categories
                },
            },
        )
        get_logger().info("purge run finished", extra={"run_id": run.id, "status": run.status.value})
        return run

    def _advance(
        self,
        item: PurgeRunItem,
        token: str,
        step: dict[str, Any],
        steps: list[dict[str, Any]],
        started_at: str,
        dry_run: bool,
        progress: _Progress,
    ) -> str:
        """Move one category forward: ``done``, ``paused`` (budget), ``wait`` (archive), ``throttled``."""
        category = step["category"]
        purger = self.purgers.get(category)
        if purger is None or not purger.available():
            step.update(status=StepStatus.skipped.value, reason=self.purgers.reason(category))
            return "done"
        if step["status"] == StepStatus.pending.value:
            archiving = step.get("archive") and not dry_run
            step["status"] = (StepStatus.archiving if archiving else StepStatus.purging).value
        try:
            if step["status"] == StepStatus.archiving.value:
                outcome = self._archive(item, token, step, steps, started_at, purger)
                if outcome != "ready":
                    return outcome
                step["status"] = StepStatus.purging.value
            return self._purge(step, purger, dry_run, progress)
        except Exception as exc:
            get_logger().exception("purge step failed", extra={"run_id": int(item.id), "category": category})
            step.update(status=StepStatus.failed.value, reason=f"{type(exc).__name__}: {str(exc)[:300]}")
            return "done"

    def _archive(
        self,
        item: PurgeRunItem,
        token: str,
        step: dict[str, Any],
        steps: list[dict[str, Any]],
        started_at: str,
        purger: Purger,
    ) -> str:
        """Export the expiring records first: ``ready`` once the export job completed."""
        exports = self.exports()
        if exports is None or purger.export_type is None:
            step.update(status=StepStatus.failed.value, reason="Archiving is not available; nothing was deleted.")
            return "done"
        if step.get("archive_job_id") is None:
            from chalicelib.domain.exports import CreateExport

            request = CreateExport(job_type=purger.export_type, filter_params={"before_date": step["cutoff"]})
            job = exports.create(request, SYSTEM_PRINCIPAL)
            step["archive_job_id"] = int(job.id)
            # Remember the job at once: a retry must not start a second export.
            self._save(item, token, steps, RunStatus.running, None, started_at, None, release=False)
        job = exports.get(int(step["archive_job_id"]))
        status = getattr(job.status, "value", job.status)
        if status == "completed":
            return "ready"
        if status == "failed":
            why = getattr(job, "error_message", None) or "no reason given"
            step.update(
                status=StepStatus.failed.value,
                reason=f"Archive export job {step['archive_job_id']} failed ({why}); nothing was deleted.",
            )
            return "done"
        return "wait"

    def _purge(self, step: dict[str, Any], purger: Purger, dry_run: bool, progress: _Progress) -> str:
        engine = self.engine
        state: dict[str, Any] = dict(step.get("state") or {})
        step["state"] = state
        cutoff = step["cutoff"]
        leftover = state.get("leftover")
        if leftover:
            left = engine.delete(leftover["table"], leftover["keys"])
            step["deleted"] += len(leftover["keys"]) - len(left)
            progress.batches += 1
            if left:
                state["leftover"] = {"table": leftover["table"], "keys": left}
                return "throttled"
            state["leftover"] = None
        resume_at = state.get("source")
        for source in purger.sources(cutoff):
            if resume_at is not None and source.name < resume_at:
                continue
            position: Key | None = state.get("key") if source.name == resume_at else None
            state.update(source=source.name, key=position)
            while True:
                items, last_key = engine.page(source, position)
                for chunk in chunks(items):
                    if progress.stop():
                        state["key"] = position
                        return "paused"
                    progress.batches += 1
                    step["matched"] += len(chunk)
                    if not dry_run:
                        keys = [source.key_of(record) for record in chunk]
                        step["objects_deleted"] += purger.before_delete(keys)
                        left = engine.delete(source.table, keys)
                        step["deleted"] += len(keys) - len(left)
                        if left:
                            state.update(
                                key=source.position_of(chunk[-1]), leftover={"table": source.table, "keys": left}
                            )
                            return "throttled"
                    position = source.position_of(chunk[-1])
                    state["key"] = position
                if not last_key:
                    break
                position = last_key
                state["key"] = position
            if not dry_run:
                purger.after_source(source, cutoff)
            resume_at = None
            state.update(key=None)
        state.update(source=None, key=None)
        step.update(status=StepStatus.completed.value)
        return "done"
