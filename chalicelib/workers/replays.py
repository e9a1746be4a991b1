"""The replay worker: one SQS message says "work on replay N" (see chalicelib.services.replays).

On the one SQS runner: a job whose time ran short hands over to a fresh message and is
done with this one; a job another invocation holds is tried again in a minute.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.deps import get_deps
from chalicelib.domain.replays import RunOutcome
from chalicelib.logs import get_logger
from chalicelib.workers.runner import DONE, Outcome, RetryIn, run_batch

BUSY_RETRY_SECONDS = 60


def handle(event: Any, remaining_ms: Callable[[], int] | None = None) -> dict[str, Any]:
    replays = get_deps().replays

    def one(record: SQSRecord) -> Outcome:
        try:
            replay_id = int(json.loads(record.body or "")["replay_id"])
        except (ValueError, TypeError, KeyError):
            get_logger().error("replay message without a replay id dropped", extra={"message_id": record.message_id})
            return DONE
        outcome = replays.run(replay_id, remaining_ms)  # an exception: retried, resuming from its position
        if outcome is RunOutcome.proceed:
            replays.send(replay_id)  # a fresh invocation carries on from the stored position
        if outcome is RunOutcome.busy:
            return RetryIn(BUSY_RETRY_SECONDS)  # another invocation holds the lease
        return DONE

    return run_batch(event, one, replays.queue)
