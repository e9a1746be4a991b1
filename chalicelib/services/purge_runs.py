"""Purge runs: created with one step per category, then advanced by the purge worker.

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

from chalicelib.budget import Budget
from chalicelib.clock import Clock, isoformat, parse_iso
from chalicelib.domain.common import SYSTEM_PRINCIPAL, Principal
from chalicelib.domain.errors import Busy, InvalidField, NotFound
from chalicelib.domain.maintenance import Mode
from chalicelib.domain.retention import (
    FINISHED_RUN,
    FINISHED_STEP,
    CategoryResult,
    PurgeRun,
    RunStatus,
    StepOutcome,
    StepStatus,
    cutoff_for,
    requeue_delay,
)
from chalicelib.logs import get_logger
from chalicelib.purge.purgers import Purgers
from chalicelib.purge.queue import PurgeQueue
from chalicelib.services.event_sources import announce_purge_run
from chalicelib.services.purge_steps import Progress, PurgeSteps
from chalicelib.store.counters import IdAllocator
from chalicelib.store.retention import PolicyItem, PolicyRepo, PurgeRunItem, PurgeRunRepo

LEASE_MARGIN_SECONDS = 30


class Maintenance(Protocol):
    def current(self) -> Any: ...


class Audit(Protocol):
    def record(
        self, principal: Principal, action: str, resource_type: str, resource_id: Any = None, summary: Any = None
    ) -> Any: ...


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


class PurgeRuns(PurgeSteps):
    """The run state machine; :class:`chalicelib.services.retention.RetentionService` adds the policies."""

    ids: IdAllocator
    clock: Clock
    purgers: Purgers
    queue: PurgeQueue
    maintenance: Maintenance
    audit: Audit
    exports: Callable[[], Any]
    archive_poll_seconds: int
    policies: PolicyRepo
    runs: PurgeRunRepo

    def _all_policies(self) -> list[PolicyItem]:
        raise NotImplementedError

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
                policy = self.policies.get(category)
                if policy is None:
                    raise InvalidField(("categories", position), f"No retention policy for category '{category}'.")
                policies.append(policy)
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
        self.runs.create(item)
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
            reason = "The run could not be queued; start a new one."
            self.runs.fail(run.id, RunStatus.failed.value, reason, isoformat(self.clock()))
            raise Busy("The purge queue is unavailable; retry shortly.") from exc
        return run

    def get_run(self, run_id: int) -> PurgeRun:
        item = self.runs.get(run_id)
        if item is None:
            raise NotFound(f"Purge run {run_id} not found.")
        return _run_view(item)

    def page_runs(self, limit: int, cursor: str | None) -> tuple[list[PurgeRun], str | None]:
        return self.runs.page(limit, cursor, _run_view)

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
                self.runs.release(item, token)
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

        progress = Progress(budget)
        delay: int | None = None
        for step in steps:
            if StepStatus(step["status"]) in FINISHED_STEP:
                continue
            outcome = self._advance(item, token, step, steps, started_at, bool(item.dry_run), progress)
            delay = requeue_delay(delay, outcome, self.archive_poll_seconds)
            if outcome is StepOutcome.paused:
                break

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
        open_statuses = (RunStatus.pending.value, RunStatus.running.value)
        item = self.runs.claim(run_id, token, isoformat(until), isoformat(now), open_statuses)
        if item is None:
            self._requeue_if_held(run_id)
        return item

    def _requeue_if_held(self, run_id: int) -> None:
        """Another invocation holds the run: look again when its lease ends (it may have died)."""
        current = self.runs.get(run_id)
        if current is None:
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
        self.runs.save(item, token, status.value, steps, started_at, reason, ended_at, release)
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
        announce_purge_run(run)
        return run
