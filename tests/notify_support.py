"""Helpers for the notification tests: an SQS pump that plays Lambda, channel factories."""

from __future__ import annotations

from typing import Any

from chalicelib import aws
from chalicelib.resources import queue_url
from chalicelib.services.notifications import Notifications
from chalicelib.workers import notifications as worker
from tests.support import Api


def sqs_records(max_messages: int = 10, visibility: int = 30) -> list[dict[str, Any]]:
    """Receive messages from the notifications queue as Lambda's SQS event records."""
    response = aws.client("sqs").receive_message(
        QueueUrl=queue_url("notifications"),
        MaxNumberOfMessages=max_messages,
        VisibilityTimeout=visibility,
        AttributeNames=["ApproximateReceiveCount"],
    )
    return [
        {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "eventSource": "aws:sqs",
        }
        for message in response.get("Messages", [])
    ]


def pump_once(service: Notifications | None = None) -> dict[str, Any]:
    """One Lambda invocation: receive a batch, deliver it, delete what succeeded (as Lambda does)."""
    records = sqs_records()
    if not records:
        return {"records": 0, "batchItemFailures": []}
    result = worker.deliver(records, service=service)
    failed = {failure["itemIdentifier"] for failure in result["batchItemFailures"]}
    sqs = aws.client("sqs")
    for record in records:
        if record["messageId"] not in failed:
            sqs.delete_message(QueueUrl=queue_url("notifications"), ReceiptHandle=record["receiptHandle"])
    return {"records": len(records), **result}


def pump_until_idle(service: Notifications | None = None, rounds: int = 20) -> int:
    """Pump until the queue has nothing visible; returns the number of records handled."""
    handled = 0
    for _ in range(rounds):
        outcome = pump_once(service)
        if not outcome["records"]:
            break
        handled += outcome["records"]
    return handled


def queue_depth() -> int:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=queue_url("notifications"),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def create_channel(api: Api, **fields: Any) -> dict[str, Any]:
    body = {"name": "owner_email", "channel_type": "email", "target": "owner@example.com", **fields}
    reply = api.post("/system/notify/channels", body)
    assert reply.status == 201, reply.json
    return dict(reply.json)


def enqueue(api: Api, channel_id: int, **fields: Any) -> dict[str, Any]:
    body = {"channel_id": channel_id, "subject": "Alert", "body": "System updated", **fields}
    reply = api.post("/system/notify/", body)
    assert reply.status == 201, reply.json
    return dict(reply.json)
