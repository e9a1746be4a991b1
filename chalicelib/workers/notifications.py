"""The notification workers: SQS delivery in batches (on the one SQS runner), and the outbox sweeper.

``deliver`` handles one SQS batch through :func:`chalicelib.workers.runner.run_batch`:
each record is done, or to be tried again in N seconds (a transient failure, an item
another worker holds, or a delivery the channel's breaker or rate limit deferred),
which the runner turns into the message's visibility timeout and
``batchItemFailures``. After the batch, the channel health tallies and the delivery
analytics are added to the container's and written at most every
``VALHALLA_TALLY_FLUSH_SECONDS``, or at once when the batch was not full (the queue is
draining). Counters go to CloudWatch as EMF through Powertools Metrics.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.deps import get_deps
from chalicelib.domain.delivery import DeliveryOutcome
from chalicelib.logs import get_logger
from chalicelib.queues import SqsQueue
from chalicelib.services.notifications import DeliveryReport, Notifications
from chalicelib.workers import events as events_worker
from chalicelib.workers.runner import DONE, Outcome, RetryIn, run_batch

METRIC_NAMES = {
    DeliveryOutcome.sent: "NotificationsSent",
    DeliveryOutcome.failed: "NotificationsFailed",
    DeliveryOutcome.retry: "NotificationsRetried",
}
BUDGET_MARGIN_MS = 1000  # to record the outcome after a send that used its whole timeout
AGAIN_LATER = (DeliveryOutcome.retry, DeliveryOutcome.busy, DeliveryOutcome.deferred)
BATCH_SIZE = 10  # app.py's deliver_notifications: a smaller batch means the queue is draining


@lru_cache(maxsize=1)
def get_metrics() -> Metrics:
    return Metrics(namespace="Valhalla", service="valhalla")


def _notification_id(body: str | None) -> int | None:
    try:
        value = json.loads(body or "")["id"]
    except (ValueError, TypeError, KeyError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def deliver(
    records: Iterable[Any],
    remaining_ms: Callable[[], int] | None = None,
    service: Notifications | None = None,
) -> dict[str, Any]:
    """Deliver one SQS batch; returns the partial batch response for Lambda."""
    service = service or get_deps().notifications
    logger = get_logger()
    needed_ms = int(service.settings.webhook_timeout_seconds * 1000) + BUDGET_MARGIN_MS
    reports: list[DeliveryReport] = []
    handled: list[str] = []

    def handle(record: SQSRecord) -> Outcome:
        handled.append(record.message_id)
        if remaining_ms is not None and remaining_ms() < needed_ms:
            return RetryIn()  # out of time: the message comes back after its visibility timeout
        event = events_worker.deferred_event(record.body)
        if event is not None:  # an event the event table refused when it was emitted
            return DONE if events_worker.record_deferred(event) else RetryIn()
        notification_id = _notification_id(record.body)
        if notification_id is None:
            logger.error("notification message without a valid id dropped", extra={"message_id": record.message_id})
            return DONE
        report = service.deliver(notification_id)  # an exception: the runner logs it and retries the record
        _log(report, record.message_id)
        reports.append(report)
        return RetryIn(report.delay or 0) if report.outcome in AGAIN_LATER else DONE

    queue = SqsQueue(lambda: service.sqs, lambda: service.queue_url)
    try:
        return run_batch(records, handle, queue)
    finally:
        _after_batch(service, reports, draining=len(handled) < BATCH_SIZE)


def _after_batch(service: Notifications, reports: list[DeliveryReport], draining: bool) -> None:
    """The batch's aggregates: channel health, metrics, the analytics (held, or written now)."""
    if service.guard is not None:
        service.guard.flush(draining=draining)
    metrics = get_metrics()
    counted = [report for report in reports if report.outcome in METRIC_NAMES]
    for report in counted:
        metrics.add_metric(name=METRIC_NAMES[report.outcome], unit=MetricUnit.Count, value=1)
    if counted:
        metrics.flush_metrics()
    get_deps().stats.record_deliveries(reports, draining=draining)  # one write per row, per flush


def write_held_tallies() -> None:
    """Write the analytics and channel-health tallies this container holds.

    A Lambda container writes them with its next batch (or loses them if it stops first:
    at most ``VALHALLA_TALLY_FLUSH_SECONDS`` of its counts); the local stack calls this
    when a queue goes idle, so what it shows is complete once the queue is empty.
    """
    deps = get_deps()
    deps.delivery_guard.flush()
    deps.stats.flush()


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
    level = "warning" if report.outcome in (DeliveryOutcome.retry, DeliveryOutcome.failed) else "info"
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
