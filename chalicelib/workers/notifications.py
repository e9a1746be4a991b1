"""The notification workers: SQS delivery in batches, and the outbox sweeper.

``deliver`` handles one SQS batch. A record whose delivery must be tried again later
(a transient failure, or an item another worker holds) gets its visibility timeout
set to the wait and is reported in ``batchItemFailures``; everything else is done and
acknowledged. Counters go to CloudWatch as EMF through Powertools Metrics.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.deps import get_deps
from chalicelib.logs import get_logger
from chalicelib.services.notifications import DeliveryReport, Notifications
from chalicelib.workers import events as events_worker

METRIC_NAMES = {"sent": "NotificationsSent", "failed": "NotificationsFailed", "retry": "NotificationsRetried"}
BUDGET_MARGIN_MS = 1000  # to record the outcome after a send that used its whole timeout


@lru_cache(maxsize=1)
def get_metrics() -> Metrics:
    return Metrics(namespace="Valhalla", service="valhalla")


def _record_dict(record: Any) -> dict[str, Any]:
    if isinstance(record, dict):
        return record
    return dict(record.to_dict())


def _notification_id(record: dict[str, Any]) -> int | None:
    try:
        value = json.loads(record.get("body") or "")["id"]
    except (ValueError, TypeError, KeyError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def deliver(
    records: Iterable[Any],
    remaining_ms: Callable[[], int] | None = None,
    service: Notifications | None = None,
) -> dict[str, list[dict[str, str]]]:
    """Deliver one SQS batch; returns the partial batch response for Lambda."""
    service = service or get_deps().notifications
    logger = get_logger()
    metrics = get_metrics()
    needed_ms = int(service.settings.webhook_timeout_seconds * 1000) + BUDGET_MARGIN_MS
    failures: list[str] = []
    reports: list[DeliveryReport] = []
    counted = False
    for raw in records:
        record = _record_dict(raw)
        message_id = str(record.get("messageId"))
        if remaining_ms is not None and remaining_ms() < needed_ms:
            failures.append(message_id)  # out of time: the message comes back after its visibility timeout
            continue
        event = events_worker.deferred_event(record.get("body"))
        if event is not None:  # an event the event table refused when it was emitted
            if not events_worker.record_deferred(event):
                failures.append(message_id)
            continue
        notification_id = _notification_id(record)
        if notification_id is None:
            logger.error("notification message without a valid id dropped", extra={"message_id": message_id})
            continue
        try:
            report = service.deliver(notification_id)
        except Exception:
            logger.exception("notification delivery error", extra={"notification_id": notification_id})
            failures.append(message_id)
            continue
        _log(report, message_id)
        reports.append(report)
        if report.outcome in METRIC_NAMES:
            metrics.add_metric(name=METRIC_NAMES[report.outcome], unit=MetricUnit.Count, value=1)
            counted = True
        if report.outcome in ("retry", "busy"):
            _delay(service, record, report.delay or 0)
            failures.append(message_id)
    if counted:
        metrics.flush_metrics()
    get_deps().stats.record_deliveries(reports)  # the analytics: one aggregate write per row, per batch
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures]}


def _delay(service: Notifications, record: dict[str, Any], seconds: int) -> None:
    try:
        service.sqs.change_message_visibility(
            QueueUrl=service.queue_url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=int(seconds)
        )
    except Exception as exc:
        # The message comes back after the queue's visibility timeout instead; an early
        # return is dropped as "not due" and the sweeper re-enqueues the item when due.
        get_logger().warning("could not set the retry delay", extra={"error": f"{type(exc).__name__}: {exc}"})


def _log(report: DeliveryReport, message_id: str) -> None:
    fields = {
        "notification_id": report.notification_id,
        "sqs_message_id": message_id,
        "outcome": report.outcome,
        "attempt": report.attempts,
        "channel_type": report.channel_type,
        "http_status": report.http_status,
        "error": report.error,
        "retry_in_seconds": report.delay,
    }
    level = "warning" if report.outcome in ("retry", "failed") else "info"
    getattr(get_logger(), level)("notification attempt", extra=fields)


def sweep(service: Notifications | None = None) -> int:
    """Re-enqueue outbox items left ``pending`` past the grace period."""
    service = service or get_deps().notifications
    swept = service.sweep()
    if swept:
        metrics = get_metrics()
        metrics.add_metric(name="NotificationsSwept", unit=MetricUnit.Count, value=swept)
        metrics.flush_metrics()
    return swept
