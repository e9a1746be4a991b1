"""The one definition of each queue: its consumer's timeout, visibility, receives and dead-letter queue.

The local stack (:mod:`chalicelib.resources`) and ``infra/`` both build their queues
from here, so a message behaves locally as it does in AWS.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.logs import get_logger
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
    # One replay re-queues pages of notifications within its time budget, then hands over.
    "replays": QueueSettings(consumer_timeout_seconds=300),
}
DEFAULT_QUEUE = QueueSettings(consumer_timeout_seconds=60)


def queue_settings(logical: str) -> QueueSettings:
    return QUEUES.get(logical, DEFAULT_QUEUE)


def dead_letter_queue_name(queue_name: str) -> str:
    return f"{queue_name}-dlq"


class SqsQueue:
    """One queue as the code uses it: send a message, or hold a received one back for a while.

    The URL is looked up once, on first use; ``sqs`` and ``url`` are functions so that
    nothing is built before it is needed.
    """

    MAX_HOLD_SECONDS = 43_200  # SQS's limit for a visibility timeout

    def __init__(self, sqs: Callable[[], Any], url: Callable[[], str]) -> None:
        self._sqs = sqs
        self._url_of = url
        self._url: str | None = None

    @classmethod
    def named(cls, logical: str) -> SqsQueue:
        """The queue ``logical`` of the current settings, through the shared SQS client."""
        from chalicelib import aws
        from chalicelib.settings import get_settings

        def url() -> str:
            name = get_settings().queue(logical)
            return str(aws.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])

        return cls(lambda: aws.client("sqs"), url)

    @property
    def url(self) -> str:
        if self._url is None:
            self._url = self._url_of()
        return self._url

    def send(self, body: dict[str, Any], delay_seconds: int = 0) -> None:
        self._sqs().send_message(
            QueueUrl=self.url, MessageBody=json.dumps(body), DelaySeconds=max(0, min(900, int(delay_seconds)))
        )

    def hold(self, receipt_handle: str, seconds: int) -> None:
        """Make a received message visible again after ``seconds`` (its retry delay)."""
        try:
            self._sqs().change_message_visibility(
                QueueUrl=self.url,
                ReceiptHandle=receipt_handle,
                VisibilityTimeout=max(0, min(self.MAX_HOLD_SECONDS, int(seconds))),
            )
        except Exception as exc:
            # The message comes back after the queue's visibility timeout instead.
            get_logger().warning("could not set the retry delay", extra={"error": f"{type(exc).__name__}: {exc}"})
