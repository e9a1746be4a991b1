"""The one definition of each queue: its consumer's timeout, visibility, receives and dead-letter queue.

The local stack (:mod:`chalicelib.resources`) and ``infra/`` both build their queues
from here, so a message behaves locally as it does in AWS.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.settings import DEFAULT_RETRY_SCHEDULE

# AWS's rule for SQS event sources: a queue's visibility timeout is at least six
# times the timeout of the function that consumes it, so a message is not handed
# to a second consumer while the first may still be working on it.
VISIBILITY_FACTOR = 6
DLQ_RETENTION_DAYS = 14


@dataclass(frozen=True)
class QueueSettings:
    """A queue and the Lambda function that consumes it."""

    consumer_timeout_seconds: int
    # Receives before a message moves to the dead-letter queue. Retries with
    # backoff are receives too, so a queue that retries must allow them all.
    max_receive_count: int = 5
    retention_days: int = 4

    @property
    def visibility_timeout_seconds(self) -> int:
        return VISIBILITY_FACTOR * self.consumer_timeout_seconds


# Logical queue name (chalicelib.settings.QUEUES) -> its settings. A queue added
# to settings.QUEUES without an entry here gets DEFAULT_QUEUE.
QUEUES: dict[str, QueueSettings] = {
    # One batch of deliveries (email, SMS, webhooks with a 10 s timeout each).
    # Every retry of the schedule is one more receive, plus a margin for crashes.
    "notifications": QueueSettings(consumer_timeout_seconds=60, max_receive_count=len(DEFAULT_RETRY_SCHEDULE) + 3),
    # One export writes a multipart object to S3 within its time budget.
    "exports": QueueSettings(consumer_timeout_seconds=300),
    # One purge run deletes expired records in pages within its time budget.
    "purge": QueueSettings(consumer_timeout_seconds=300),
}
DEFAULT_QUEUE = QueueSettings(consumer_timeout_seconds=60)


def queue_settings(logical: str) -> QueueSettings:
    return QUEUES.get(logical, DEFAULT_QUEUE)


def dead_letter_queue_name(queue_name: str) -> str:
    return f"{queue_name}-dlq"
