"""The purge handlers app.py calls: the daily schedule and the purge queue.

The purge itself (budget, engine, purgers, queue) lives in :mod:`chalicelib.purge`.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.budget import Budget, LambdaBudget
from chalicelib.deps import get_deps
from chalicelib.logs import get_logger
from chalicelib.settings import get_settings
from chalicelib.workers.runner import DONE, Outcome, run_batch


def handle_purge_event(event: Any, budget: Budget) -> dict[str, Any]:
    """The purge queue's handler: each message continues one run; a failed run's message is retried."""
    return run_batch(event, lambda record: process_purge_message(record.message_id, record.body, budget), None)


def process_purge_message(message_id: str, body: str, budget: Budget) -> Outcome:
    try:
        run_id = int(json.loads(body)["run_id"])
    except (ValueError, KeyError, TypeError):
        get_logger().error("dropping a malformed purge message", extra={"message_id": message_id})
        return DONE
    get_deps().retention.process_run(run_id, budget)
    return DONE


def run_scheduled_purge(budget: Budget) -> int:
    """The daily purge: a run over every policy, processed now and continued from the queue."""
    retention = get_deps().retention
    run = retention.create_run(None, dry_run=False, requested_by="schedule", trigger="schedule")
    retention.process_run(run.id, budget)
    return run.id


def budget_for(context: Any) -> LambdaBudget:
    """The time budget of this Lambda invocation (the reserve comes from settings)."""
    return LambdaBudget.from_context(context, get_settings().purge_reserve_seconds)
