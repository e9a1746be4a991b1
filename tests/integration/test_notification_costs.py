"""What one notification costs in AWS calls on a warm container (counts, never timings).

``python -m tests.notify_costs`` prints the same figures.
"""

from __future__ import annotations

from tests.notify_costs import measure


def test_one_notification_costs_four_dynamodb_writes_and_one_sqs_send(aws: None) -> None:
    results = measure()
    # The API key and the channel come from the container's caches: no read on a warm container.
    assert results["6 x POST /system/notify/ (auth + shield + enqueue + audit)"] == {
        "dynamodb.PutItem": 6 * 3,  # the content (once), the small delivery state, the audit event
        "dynamodb.UpdateItem": 1,  # the API key's request count: one leased block of 6 for the 6
        "sqs.SendMessage": 6,
    }  # no analytics write: the backlog is read from the outbox's pending index
    assert results["enqueue() as a service (export engine)"] == {
        "dynamodb.PutItem": 2,
        "sqs.SendMessage": 1,
    }
    # The lease (returns the state) and the outcome; then the batch's analytics: its minute, hour
    # and day rows for the channel and for all channels. The analytics' 6 writes are per batch
    # and per channel in it, not per notification (10 sends: still 6); the channel's health
    # window counter is one more per batch and channel (docs/channel-health.md).
    assert results["deliver one message to sent (email via SES)"] == {
        "dynamodb.UpdateItem": 2 + 6 + 1,
        "dynamodb.GetItem": 1,  # the content (the channel is cached)
        "ses.SendEmail": 1,
    }
