"""The one SQS runner: done records are acknowledged, the others stay on the queue, delayed as asked."""

from __future__ import annotations

from typing import Any

from chalicelib.queues import SqsQueue
from chalicelib.workers.runner import DONE, Outcome, RetryIn, run_batch


class FakeSqs:
    """Records the visibility changes the runner asks for."""

    def __init__(self) -> None:
        self.held: list[tuple[str, int]] = []

    def change_message_visibility(self, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int) -> None:  # noqa: N803
        assert QueueUrl == "https://queue.example/q"
        self.held.append((ReceiptHandle, VisibilityTimeout))


def record(message_id: str, body: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
        "awsRegion": "us-east-1",
    }


def outcome_from_body(rec: Any) -> Outcome:
    if rec.body == "done":
        return DONE
    if rec.body == "crash":
        raise RuntimeError("boom")
    if rec.body == "later":
        return RetryIn()
    return RetryIn(int(rec.body))


def test_each_record_is_done_retried_after_its_delay_or_retried_after_a_crash() -> None:
    # GIVEN a batch with one record of each kind
    sqs = FakeSqs()
    queue = SqsQueue(lambda: sqs, lambda: "https://queue.example/q")
    event = {"Records": [record("a", "done"), record("b", "30"), record("c", "crash"), record("d", "later")]}
    # WHEN the runner handles it
    response = run_batch(event, outcome_from_body, queue)
    # THEN only the done record is acknowledged, and only the timed retry changed its visibility
    assert response == {"batchItemFailures": [{"itemIdentifier": m} for m in ("b", "c", "d")]}
    assert sqs.held == [("rh-b", 30)]


def test_a_batch_where_every_record_fails_is_reported_not_raised() -> None:
    sqs = FakeSqs()
    queue = SqsQueue(lambda: sqs, lambda: "https://queue.example/q")
    response = run_batch([record("a", "5"), record("b", "crash")], outcome_from_body, queue)
    assert response == {"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "b"}]}
    assert sqs.held == [("rh-a", 5)]


def test_a_retry_delay_is_clamped_to_what_sqs_accepts() -> None:
    sqs = FakeSqs()
    queue = SqsQueue(lambda: sqs, lambda: "https://queue.example/q")
    run_batch([record("a", str(10**9))], outcome_from_body, queue)
    assert sqs.held == [("rh-a", SqsQueue.MAX_HOLD_SECONDS)]
