"""Fixtures and builders shared by the retention tests (this module holds no tests).

Records are written with explicit times on both sides of a cutoff; the clock of the
services is a :class:`FixedClock`, so nothing sleeps.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalice.test import Client

from chalicelib import aws
from chalicelib.clock import FixedClock, isoformat
from chalicelib.deps import get_deps
from chalicelib.domain.common import SYSTEM_PRINCIPAL
from chalicelib.resources import queue_url
from chalicelib.settings import get_settings
from chalicelib.store.audit import AuditItem, day_partitions
from tests.support import Api

NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


def ago(days: float = 0, **delta: float) -> datetime:
    return NOW - timedelta(days=days, **delta)


def add_audit_events(clock: FixedClock, moment: datetime, count: int = 1, action: str = "test.event") -> None:
    """Audit events recorded at ``moment`` (the clock goes back to NOW afterwards)."""
    clock.now = moment
    try:
        for number in range(count):
            get_deps().audit.record(SYSTEM_PRINCIPAL, action, "thing", number)
    finally:
        clock.now = NOW


def audit_times(action: str = "test.event") -> list[str]:
    times = []
    for day in get_deps().audit.known_days():
        for partition in day_partitions(day):
            times += [item.at for item in AuditItem.query(partition) if item.action == action]
    return sorted(times)


def stored_audit_days() -> set[str]:
    """Days that still hold any audit item (asked of the table, not of the day list)."""
    days = set()
    for day in get_deps().audit.known_days():
        if any(True for partition in day_partitions(day) for _ in AuditItem.query(partition, limit=1)):
            days.add(day)
    return days


def add_outbox(item_id: int, status: str, moment: datetime) -> None:
    from chalicelib.store.notifications import ContentItem, OutboxItem
    from chalicelib.store.outbox import OutboxRepo

    stamp = isoformat(moment)
    state = OutboxItem(item_id, status=status, created_at=stamp, updated_at=stamp, channel_id=1, channel_type="email")
    OutboxRepo().put(state, ContentItem(item_id, subject=f"subject {item_id}", body="body"))


def outbox_ids() -> set[int]:
    from chalicelib.store.notifications import OutboxItem

    ids: set[int] = set()
    from chalicelib.store.sharding import all_shards

    for status in ("pending", "sent", "failed"):
        for partition in all_shards(status):
            ids |= {int(item.id) for item in OutboxItem.by_status.query(partition)}
    return ids


def add_export_job(job_id: int, status: str, moment: datetime, files: bool = True) -> list[str]:
    """A job item and, when ``files``, its data file and manifest under ``exports/{id}/``."""
    from chalicelib.store.exports import ExportJobItem

    stamp = isoformat(moment)
    ExportJobItem(
        job_id,
        status=status,
        job_type="audit_log_export",
        principal="tests",
        created_at=stamp,
        updated_at=stamp,
    ).save()
    keys = [f"exports/{job_id}/data.jsonl.gz", f"exports/{job_id}/manifest.json"] if files else []
    for key in keys:
        aws.client("s3").put_object(Bucket=get_settings().exports_bucket, Key=key, Body=b"{}")
    return keys


def export_job_ids() -> set[int]:
    from chalicelib.store.exports import ExportJobItem

    ids: set[int] = set()
    for status in ("pending", "running", "completed", "failed"):
        ids |= {int(item.id) for item in ExportJobItem.by_status.query(status)}
    return ids


def s3_keys(prefix: str = "exports/") -> set[str]:
    keys: set[str] = set()
    paginator = aws.client("s3").get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=get_settings().exports_bucket, Prefix=prefix):
        keys |= {entry["Key"] for entry in page.get("Contents", [])}
    return keys


def sqs_event(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{get_settings().queue('purge')}",
                "awsRegion": "us-east-1",
            }
        ]
    }


def drain_purge_queue(client: Client, max_messages: int = 200, require_empty: bool = True) -> int:
    """Deliver every message of the purge queue to the ``process_purge_runs`` Lambda."""
    sqs = aws.client("sqs")
    url = queue_url("purge")
    delivered = 0
    while delivered < max_messages:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return delivered
        for message in messages:
            result = client.lambda_.invoke("process_purge_runs", sqs_event(message)).payload
            assert result == {"batchItemFailures": []}, result
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            delivered += 1
    if require_empty:
        raise AssertionError("the purge queue did not drain")
    return delivered


def purge_messages() -> list[dict[str, Any]]:
    sqs = aws.client("sqs")
    url = queue_url("purge")
    found = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return found
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        found += messages


def set_policy(api: Api, category: str, days: int = 30, **extra: Any) -> dict[str, Any]:
    reply = api.post("/system/retention/", {"category": category, "days_to_keep": days, **extra})
    assert reply.status in (200, 201), reply.json
    return dict(reply.json)


def step(run: dict[str, Any], category: str) -> dict[str, Any]:
    return next(item for item in run["categories"] if item["category"] == category)


class CountingClient:
    """A DynamoDB client that counts calls by operation (and can lose writes on purpose)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: dict[str, int] = {}
        client.meta.events.register("before-call.dynamodb.*", self._count, unique_id="retention-test-counter")

    def close(self) -> None:
        self.client.meta.events.unregister("before-call.dynamodb.*", unique_id="retention-test-counter")

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] = self.calls.get(model.name, 0) + 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


class ThrottlingClient:
    """Answers the first ``throttled_calls`` BatchWriteItem calls with part of the batch unprocessed.

    Only the processed part reaches the real table, as DynamoDB does when it throttles.
    """

    def __init__(self, client: Any, throttled_calls: int, keep_unprocessed: int = 10) -> None:
        self.client = client
        self.throttled_calls = throttled_calls
        self.keep_unprocessed = keep_unprocessed
        self.batch_calls = 0
        self.requests_seen: list[int] = []

    def batch_write_item(self, RequestItems: dict[str, list[Any]], **kw: Any) -> dict[str, Any]:  # noqa: N803
        self.batch_calls += 1
        (table, requests), *_ = RequestItems.items()
        self.requests_seen.append(len(requests))
        if self.batch_calls > self.throttled_calls:
            return dict(self.client.batch_write_item(RequestItems=RequestItems, **kw))
        cut = max(0, len(requests) - self.keep_unprocessed)
        done, unprocessed = requests[:cut], requests[cut:]
        if done:
            self.client.batch_write_item(RequestItems={table: done}, **kw)
        return {"UnprocessedItems": {table: unprocessed} if unprocessed else {}}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)
