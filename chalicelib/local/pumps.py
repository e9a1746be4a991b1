"""Event pumps: feed each ``@app.on_sqs_message`` handler from its queue, as Lambda's SQS poller does.

A batch is received, handed to the handler as a Lambda SQS event, and then:
records the handler lists in ``batchItemFailures`` stay on the queue (they come back
after their visibility timeout, which the handler may have changed for backoff);
every other record is deleted. If the handler raises, or names a record that is not
in the batch, nothing is deleted. A batch is one receive: at most 10 records, whatever
the handler's ``batch_size`` above that (Lambda's batching window is not emulated).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalice.app import Chalice, SQSEventConfig

from chalicelib.local.runtime import (
    DEFAULT_BUDGET_SECONDS,
    elapsed_ms,
    find_handler,
    function_name,
    invoke,
    lambda_context,
    sqs_record,
)

Log = Callable[[str], None]
SQS_MAX_BATCH = 10


@dataclass(frozen=True)
class Delivery:
    """What one invocation did with its batch."""

    received: int
    deleted: int
    kept: int
    error: str | None = None


def failed_ids(result: Any, batch_ids: list[str]) -> set[str]:
    """The message ids Lambda would leave on the queue, given the handler's return value."""
    if not isinstance(result, dict) or "batchItemFailures" not in result:
        return set()
    failures = result["batchItemFailures"]
    if not isinstance(failures, list):
        return set(batch_ids)
    failed: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in batch_ids:
            return set(batch_ids)  # Lambda treats an unknown or empty identifier as a failed batch
        failed.add(identifier)
    return failed


class SqsPump:
    def __init__(
        self,
        app: Chalice,
        config: SQSEventConfig,
        *,
        sqs: Any,
        stage: str,
        region: str,
        log: Log,
        budget_seconds: int = DEFAULT_BUDGET_SECONDS,
        wait_seconds: int = 1,
        concurrency: int = 1,
        on_idle: Callable[[], None] | None = None,
    ) -> None:
        self.app = app
        self.name = config.name
        self.queue_name = config.queue or str(config.queue_arn).rsplit(":", 1)[-1]
        self.batch_size = max(1, min(config.batch_size, SQS_MAX_BATCH))
        self.handler = find_handler(app, config.name, config.handler_string)
        self.function_name = function_name(app, stage, config.name)
        self.sqs = sqs
        self.region = region
        self.log = log
        self.budget_seconds = budget_seconds
        self.wait_seconds = wait_seconds
        self.queue_url = sqs.get_queue_url(QueueName=self.queue_name)["QueueUrl"]
        self.queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        # Lambda polls a queue with several concurrent invocations; so do the pumps.
        self.concurrency = max(1, concurrency)
        self.on_idle = on_idle  # called when a receive finds the queue empty
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def poll_once(self, wait_seconds: int | None = None) -> Delivery | None:
        """Receive one batch and deliver it; ``None`` when the queue had nothing visible."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_seconds if wait_seconds is None else wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        return self.deliver(messages) if messages else None

    def deliver(self, messages: list[dict[str, Any]]) -> Delivery:
        records = [sqs_record(message, self.queue_arn, self.region) for message in messages]
        ids = [record["messageId"] for record in records]
        context = lambda_context(self.function_name, self.region, self.budget_seconds)
        started = time.perf_counter()
        try:
            result = invoke(self.handler, {"Records": records}, context)
        except Exception as exc:
            delivery = Delivery(len(records), 0, len(records), f"{type(exc).__name__}: {exc}")
        else:
            failed = failed_ids(result, ids)
            done = [record for record in records if record["messageId"] not in failed]
            self._delete(done)
            delivery = Delivery(len(records), len(done), len(records) - len(done))
        self.log(self._describe(delivery, context.aws_request_id, elapsed_ms(started)))
        return delivery

    def _delete(self, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), SQS_MAX_BATCH):
            chunk = records[start : start + SQS_MAX_BATCH]
            entries = [{"Id": str(i), "ReceiptHandle": record["receiptHandle"]} for i, record in enumerate(chunk)]
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)

    def _describe(self, delivery: Delivery, request_id: str, ms: int) -> str:
        line = (
            f"sqs {self.queue_name} -> {self.name}: {delivery.received} record(s), "
            f"{delivery.deleted} deleted, {delivery.kept} left on the queue ({ms} ms, request {request_id})"
        )
        return f"{line}; handler raised {delivery.error}" if delivery.error else line

    # --- the background thread ---

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._run, name=f"pump-{self.name}-{index}", daemon=True)
            for index in range(self.concurrency)
        ]
        for thread in self._threads:
            thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.poll_once() is None and self.on_idle is not None:
                    self.on_idle()
            except Exception as exc:
                if self._stop.is_set():
                    break
                self.log(f"sqs {self.queue_name}: receive failed ({type(exc).__name__}: {exc}); retrying")
                self._stop.wait(1)

    def signal_stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        for thread in self._threads:
            thread.join(timeout)


def sqs_sources(app: Chalice) -> list[SQSEventConfig]:
    return [source for source in app.event_sources if isinstance(source, SQSEventConfig)]
