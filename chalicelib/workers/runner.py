"""One SQS runner for every queue: a function per record says done, or retry in N seconds.

Built on Powertools' ``BatchProcessor``: a record whose function returns
:class:`RetryIn` (or raises) is reported in ``batchItemFailures`` and stays on the
queue; with ``RetryIn(seconds)`` its visibility timeout is set first, so it comes
back after that wait instead of the queue's. Every other record is acknowledged.
A batch where every record fails is reported like any other (no exception), so
Lambda applies the delays asked for instead of retrying the whole batch at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.logs import get_logger
from chalicelib.queues import SqsQueue


@dataclass(frozen=True)
class RetryIn:
    """Try this record again: after ``seconds``, or after the queue's visibility timeout when None."""

    seconds: int | None = None


DONE = None
Outcome = RetryIn | None
RecordFunction = Callable[[SQSRecord], Outcome]


class _Retry(Exception):
    """Tells the batch processor a record is to be retried (not an error)."""


def records_of(event: Any) -> list[dict[str, Any]]:
    """The raw SQS records of a Lambda event, of Chalice's ``SQSEvent`` or of a list of records."""
    if isinstance(event, dict):
        return list(event.get("Records") or [])
    return [record if isinstance(record, dict) else dict(record.to_dict()) for record in event]


def run_batch(event: Any | Iterable[dict[str, Any]], handle: RecordFunction, queue: SqsQueue | None) -> dict[str, Any]:
    """Run ``handle`` on every record; returns the partial batch response for Lambda."""
    logger = get_logger()

    def record_handler(record: SQSRecord) -> None:
        try:
            outcome = handle(record)
        except Exception:
            logger.exception("queue record failed; it will be retried", extra={"message_id": record.message_id})
            raise
        if isinstance(outcome, RetryIn):
            if outcome.seconds is not None and queue is not None:
                queue.hold(record.receipt_handle, outcome.seconds)
            raise _Retry(record.message_id)

    records = records_of(event)
    if not records:  # Powertools refuses an empty batch; there is nothing to report
        return {"batchItemFailures": []}
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return dict(
        process_partial_response(event={"Records": records}, record_handler=record_handler, processor=processor)
    )
