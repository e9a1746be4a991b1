"""One step of a purge run: one category archived (through an export) and then purged in batches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.budget import Budget
from chalicelib.domain.common import SYSTEM_PRINCIPAL
from chalicelib.domain.retention import RunStatus, StepOutcome, StepStatus
from chalicelib.logs import get_logger
from chalicelib.purge.engine import BATCH_WRITE_LIMIT, DynamoPurgeEngine, Key, Source
from chalicelib.purge.purgers import Purger, Purgers
from chalicelib.store.retention import PurgeRunItem


class Progress:
    """What this invocation has done so far (at least one batch always goes through)."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.batches = 0

    def stop(self) -> bool:
        return self.batches > 0 and self.budget.exhausted()


class PurgeSteps:
    """Advances the steps of a run; :class:`chalicelib.services.purge_runs.PurgeRuns` saves them."""

    purgers: Purgers
    exports: Callable[[], Any]

    @property
    def engine(self) -> DynamoPurgeEngine:
        raise NotImplementedError

    def _save(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def _advance(
        self,
        item: PurgeRunItem,
        token: str,
        step: dict[str, Any],
        steps: list[dict[str, Any]],
        started_at: str,
        dry_run: bool,
        progress: Progress,
    ) -> StepOutcome:
        """Move one category forward: ``done``, ``paused`` (budget), ``wait`` (archive), ``throttled``."""
        category = step["category"]
        purger = self.purgers.get(category)
        if purger is None or not purger.available():
            step.update(status=StepStatus.skipped.value, reason=self.purgers.reason(category))
            return StepOutcome.done
        if step["status"] == StepStatus.pending.value:
            archiving = step.get("archive") and not dry_run
            step["status"] = (StepStatus.archiving if archiving else StepStatus.purging).value
        try:
            if step["status"] == StepStatus.archiving.value:
                outcome = self._archive(item, token, step, steps, started_at, purger)
                if outcome is not StepOutcome.ready:
                    return outcome
                step["status"] = StepStatus.purging.value
            return self._purge(step, purger, dry_run, progress)
        except Exception as exc:
            get_logger().exception("purge step failed", extra={"run_id": int(item.id), "category": category})
            step.update(status=StepStatus.failed.value, reason=f"{type(exc).__name__}: {str(exc)[:300]}")
            return StepOutcome.done

    def _archive(
        self,
        item: PurgeRunItem,
        token: str,
        step: dict[str, Any],
        steps: list[dict[str, Any]],
        started_at: str,
        purger: Purger,
    ) -> StepOutcome:
        """Export the expiring records first: ``ready`` once the export job completed."""
        exports = self.exports()
        if exports is None or purger.export_type is None:
            step.update(status=StepStatus.failed.value, reason="Archiving is not available; nothing was deleted.")
            return StepOutcome.done
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
            return StepOutcome.ready
        if status == "failed":
            why = getattr(job, "error_message", None) or "no reason given"
            step.update(
                status=StepStatus.failed.value,
                reason=f"Archive export job {step['archive_job_id']} failed ({why}); nothing was deleted.",
            )
            return StepOutcome.done
        return StepOutcome.wait

    def _purge(self, step: dict[str, Any], purger: Purger, dry_run: bool, progress: Progress) -> StepOutcome:
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
                return StepOutcome.throttled
            state["leftover"] = None
        # Records are deleted 25 a batch across sources (a table's write shards are one
        # source each, a few records apiece): ceil(N/25) batches, not one part-filled batch
        # per shard. ``source``/``key`` name the last record deleted: a pause or a
        # throttled batch resumes right after it, and reads again what was read but not deleted.
        resume_at, resume_key = state.get("source"), state.get("key")
        batch: list[tuple[Source, Key]] = []
        finished: list[Source] = []  # read to the end; told once their last records are gone

        def flush() -> StepOutcome | None:
            if progress.stop():
                return StepOutcome.paused
            progress.batches += 1
            step["matched"] += len(batch)
            last_source, last_record = batch[-1]
            reached = {"source": last_source.name, "key": last_source.position_of(last_record)}
            if not dry_run:
                keys = [source.key_of(record) for source, record in batch]
                step["objects_deleted"] += purger.before_delete(keys)
                left = engine.delete(last_source.table, keys)
                step["deleted"] += len(keys) - len(left)
                if left:
                    state.update(reached, leftover={"table": last_source.table, "keys": left})
                    return StepOutcome.throttled
                for source in finished:
                    purger.after_source(source, cutoff)
            state.update(reached)
            batch.clear()
            finished.clear()
            return None

        for source in purger.sources(cutoff):
            if resume_at is not None and source.name < resume_at:
                continue
            position: Key | None = resume_key if source.name == resume_at else None
            while True:
                items, last_key = engine.page(source, position)
                for record in items:
                    if batch and batch[0][0].table != source.table:
                        outcome = flush()
                        if outcome is not None:
                            return outcome
                    batch.append((source, record))
                    if len(batch) == BATCH_WRITE_LIMIT:
                        outcome = flush()
                        if outcome is not None:
                            return outcome
                if not last_key:
                    break
                position = last_key
            finished.append(source)
        if batch:
            outcome = flush()
            if outcome is not None:
                return outcome
        if not dry_run:
            for source in finished:
                purger.after_source(source, cutoff)
        state.update(source=None, key=None)
        step.update(status=StepStatus.completed.value)
        return StepOutcome.done
