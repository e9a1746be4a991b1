"""The local queues are the deployed queues: the same visibility, receives and dead-letter queue."""

from __future__ import annotations

import json

from chalicelib import aws as aws_clients
from chalicelib.queues import dead_letter_queue_name, queue_settings
from chalicelib.settings import QUEUES, get_settings


def test_each_local_queue_has_its_defined_visibility_receives_and_dead_letter_queue(aws: None) -> None:
    sqs = aws_clients.client("sqs")
    settings = get_settings()
    for logical in QUEUES:
        spec = queue_settings(logical)
        url = sqs.get_queue_url(QueueName=settings.queue(logical))["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attributes["RedrivePolicy"])
        assert int(attributes["VisibilityTimeout"]) == spec.visibility_timeout_seconds, logical
        assert int(redrive["maxReceiveCount"]) == spec.max_receive_count, logical
        assert redrive["deadLetterTargetArn"].endswith(":" + dead_letter_queue_name(settings.queue(logical)))
    # The queues differ where their consumers differ (not one setting for all).
    assert (
        queue_settings("exports").visibility_timeout_seconds
        != queue_settings("notifications").visibility_timeout_seconds
    )
