"""The purge handlers app.py calls: the daily schedule and the purge queue.

The purge itself (budget, engine, purgers, queue) lives in :mod:`chalicelib.purge`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from chalicelib.deps import get_deps
from chalicelib.logs import get_logger
from chalicelib.purge.budget import Budget, LambdaBudget
from chalicelib.settings import get_settings


def handle_purge_messages(records: Sequence[tuple[str, str]], budget: Budget) -> dict[str, Any]:
    """Process purge-run messages ``(message_id, body)``; failed ones go back to the queue."""
    logger = get_logger()
    failures = []
    for message_id, body in records:
        try:
            run_id = int(json.loads(body)["run_id"])
        except (ValueError, KeyError, TypeError):
            logger.error("dropping a malformed purge message", extra={"message_id": message_id})
            continue
        try:
            get_deps().retention.process_run(run_id, budget)
        except Exception:
            logger.exception("purge run failed; the message will be retried", extra={"run_id": run_id})
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}


def run_scheduled_purge(budget: Budget) -> int:
    """The daily purge: a run over every policy, processed now and continued from the queue."""
    retention = get_deps().retention
    run = retention.create_run(None, dry_run=False, requested_by="schedule", trigger="schedule")
    retention.process_run(run.id, budget)
    return run.id


def budget_for(context: Any) -> LambdaBudget:
    """The time budget of this Lambda invocation (the reserve comes from settings)."""
    return LambdaBudget.from_context(context, get_settings().purge_reserve_seconds)
