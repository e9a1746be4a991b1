"""The AWS resources the code expects, beyond the tables: queues and the exports bucket.

The local stack and the tests create them from here; ``infra/`` declares the same
ones for AWS. Tables come from the PynamoDB models (:mod:`chalicelib.store.base`).
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib import aws
from chalicelib.queues import DLQ_RETENTION_DAYS, dead_letter_queue_name, queue_settings
from chalicelib.settings import Settings, get_settings
from chalicelib.store.models import create_tables


def queue_url(logical: str, settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    return str(aws.client("sqs").get_queue_url(QueueName=settings.queue(logical))["QueueUrl"])


def create_queues(settings: Settings) -> dict[str, str]:
    sqs = aws.client("sqs")
    urls: dict[str, str] = {}
    for logical, name in settings.queue_names.items():
        spec = queue_settings(logical)
        dlq_url = sqs.create_queue(
            QueueName=dead_letter_queue_name(name),
            Attributes={"MessageRetentionPeriod": str(DLQ_RETENTION_DAYS * 86400)},
        )["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(spec.max_receive_count)})
        urls[logical] = sqs.create_queue(
            QueueName=name,
            Attributes={
                "VisibilityTimeout": str(spec.visibility_timeout_seconds),
                "MessageRetentionPeriod": str(spec.retention_days * 86400),
                "RedrivePolicy": redrive,
            },
        )["QueueUrl"]
    return urls


def create_bucket(settings: Settings) -> None:
    s3 = aws.client("s3")
    kwargs: dict[str, Any] = {"Bucket": settings.exports_bucket}
    if settings.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": settings.region}
    s3.create_bucket(**kwargs)
    s3.put_public_access_block(
        Bucket=settings.exports_bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=settings.exports_bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )


def verify_email_sender(settings: Settings) -> None:
    """SES refuses unverified senders, in moto as in a real account."""
    aws.client("ses").verify_email_identity(EmailAddress=settings.email_sender)


def create_signing_key(settings: Settings) -> None:
    """The KMS key that seals webhook signing secrets, under the alias settings name (as the stack does)."""
    kms = aws.client("kms")
    key_id = kms.create_key(Description=f"Valhalla {settings.stage}: webhook signing secrets")["KeyMetadata"]["KeyId"]
    if settings.signing_key_id.startswith("alias/"):
        kms.create_alias(AliasName=settings.signing_key_id, TargetKeyId=key_id)


def create_all(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    create_tables()
    create_queues(settings)
    create_bucket(settings)
    verify_email_sender(settings)
    create_signing_key(settings)
