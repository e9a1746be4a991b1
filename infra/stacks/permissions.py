"""One IAM role per Lambda function, each with only the actions and resources that function uses.

The grants are declared per function (its logical id, from the handler's name) in
:data:`GRANTS`; a function added to the app without an entry stops the synthesis, so
nothing new runs with borrowed rights. What each entry allows follows the code paths
of that function: the API serves requests and queues work, it never deletes data in
bulk, never deletes objects, never sends email or SMS; each worker touches only its
own tables, queue and bucket prefix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from chalicelib.channels.secret_box import PURPOSE as SIGNING_PURPOSE

READ = ("dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem")
WRITE = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem")
UPDATE = ("dynamodb:UpdateItem",)
DELETE = ("dynamodb:DeleteItem",)
BULK_DELETE = ("dynamodb:BatchWriteItem", "dynamodb:DeleteItem")
CONSUME = ("sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage")
SEND = ("sqs:GetQueueUrl", "sqs:SendMessage")
# X-Ray has no resource-level permissions: these two actions are granted on "*" (write-only).
TRACING = ("xray:PutTelemetryRecords", "xray:PutTraceSegments")


@dataclass(frozen=True)
class Grants:
    """What one function may do. ``tables``: logical table name -> DynamoDB actions."""

    tables: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    consumes: str | None = None  # the queue that triggers it
    sends_to: tuple[str, ...] = ()  # queues it sends messages to
    objects: tuple[str, ...] = ()  # S3 object actions on the exports bucket
    list_bucket: bool = False
    email: bool = False
    sms: bool = False
    kms: tuple[str, ...] = ()  # actions on the signing-secrets key
    description: str = ""


# What emitting a system event touches (chalicelib/services/events.py): the event log and its
# fan-out markers, the subscriptions, one outbox notification (state and content) per target,
# and the notification id slots; a refused event is deferred through the queue.
EMITS: dict[str, tuple[str, ...]] = {
    "events": READ + WRITE,
    "event_subscriptions": READ,
    "notification_channels": READ,
    "notification_outbox": READ + WRITE,
    "notification_content": READ + WRITE,
    "counters": READ + WRITE,
}


def _with_events(tables: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """A function's own table grants plus what emitting an event needs."""
    merged = {name: tuple(actions) for name, actions in tables.items()}
    for name, actions in EMITS.items():
        merged[name] = tuple(dict.fromkeys(merged.get(name, ()) + actions))
    return merged


GRANTS: dict[str, Grants] = {
    "APIHandler": Grants(
        tables=_with_events(
            {
                "api_keys": READ + WRITE + DELETE,  # revoking a key
                "audit_log": READ + WRITE,
                "counters": READ + WRITE,  # ids, uniqueness markers
                "idempotency": READ + WRITE + DELETE,  # a key is released when the request failed before writing
                "maintenance_state": READ + WRITE,
                "notification_channels": READ + WRITE,
                "notification_outbox": READ + WRITE,
                "export_jobs": READ + WRITE,
                "data_retention_policies": READ + WRITE,
                "purge_runs": READ + WRITE,
                "stats": READ,  # the analytics' reads (the backlog is read from the outbox)
                "notification_content": READ + WRITE + DELETE,  # a request that fails leaves no content behind
                "event_subscriptions": READ + WRITE + DELETE,  # subscriptions CRUD
                "channel_health": READ + WRITE,  # a channel's health, and resetting it on enable
                "rate_limits": UPDATE,  # one conditional counter update per request (the key's minute)
                "notification_replays": READ + WRITE,  # replay jobs: create, cancel
            }
        ),
        sends_to=("notifications", "exports", "purge", "replays"),
        objects=("s3:GetObject",),  # presigned download links are signed with the API's rights
        kms=("kms:GenerateDataKey",),  # seals new and rotated signing secrets; never opens one
        description="the HTTP API: reads and writes records, queues work; no bulk deletes, no sending",
    ),
    "ApiKeyAuthorizer": Grants(
        tables={"api_keys": ("dynamodb:GetItem",)},
        description="the API-key authorizer: looks a key's hash up",
    ),
    "DeliverNotifications": Grants(
        tables=_with_events(
            {
                "notification_outbox": READ + UPDATE,
                "notification_content": READ,
                "notification_channels": READ + UPDATE,
                "stats": READ + UPDATE,  # one aggregate update per batch
                "channel_health": READ + WRITE,  # breaker state and window counters, once per batch
                "rate_limits": READ + WRITE,  # a rate-limited channel's token bucket, leased in blocks
            }
        ),  # a notification that gives up emits notification.failed; channel.disabled / channel.recovered
        consumes="notifications",
        sends_to=("notifications",),
        email=True,
        sms=True,
        kms=("kms:Decrypt",),  # opens signing secrets; deletes a previous one whose overlap ended
        description="notification delivery: email, SMS, signed webhooks",
    ),
    "SweepNotifications": Grants(
        tables={"notification_outbox": READ + UPDATE},
        sends_to=("notifications",),
        description="the outbox sweeper: re-enqueues overdue notifications",
    ),
    "SweepEvents": Grants(
        tables=_with_events({"maintenance_state": READ + WRITE}),  # a maintenance window that ended
        sends_to=("notifications",),
        description="the event sweeper: finishes fan-outs left incomplete, ends expired maintenance windows",
    ),
    "RunExport": Grants(
        tables=_with_events(
            {
                "export_jobs": READ + WRITE,
                "audit_log": READ,
                "notification_channels": READ,
                "notification_outbox": READ + WRITE,  # the "export finished" notification
                "counters": READ + WRITE,
                "stats": READ + UPDATE,
                "notification_content": READ + WRITE,
            }
        ),  # export.completed / export.failed
        consumes="exports",
        sends_to=("exports", "notifications"),
        objects=("s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:DeleteObject"),
        description="export jobs: query pages, write them to S3 (and clean up a cancelled job's parts)",
    ),
    "RunReplays": Grants(
        tables={
            "notification_replays": READ + WRITE,
            "notification_outbox": READ + WRITE,  # failed ones back to pending; copies to another channel
            "notification_content": READ + WRITE,
            "notification_channels": READ,
            "counters": READ + WRITE,  # the copies' ids
        },
        consumes="replays",
        sends_to=("replays", "notifications"),
        description="replay jobs: re-queue failed notifications in bulk, or copy them to another channel",
    ),
    "PurgeExpired": Grants(
        tables={
            "data_retention_policies": READ,
            "purge_runs": READ + WRITE,
            "counters": READ + WRITE,
            "maintenance_state": READ,
            "audit_log": READ + WRITE,
        },
        sends_to=("purge",),
        description="the scheduled purge: starts a purge run",
    ),
    "ProcessPurgeRuns": Grants(
        tables=_with_events(
            {
                "data_retention_policies": READ + WRITE,
                "purge_runs": READ + WRITE + BULK_DELETE,
                "counters": READ + WRITE,
                "maintenance_state": READ,
                "audit_log": READ + WRITE + BULK_DELETE,
                "notification_outbox": READ + BULK_DELETE,
                "export_jobs": READ + WRITE + BULK_DELETE,
                "notification_channels": READ,
                "stats": READ + BULK_DELETE,  # analytics rows past their retention
                "notification_content": READ + BULK_DELETE,  # a purged notification's content goes with it
            }
        ),  # retention.purge.completed / failed
        consumes="purge",
        sends_to=("purge", "exports", "notifications"),
        objects=("s3:DeleteObject",),
        list_bucket=True,
        description="purge runs: delete expired records and export files, archive first where asked",
    ),
}


@dataclass
class Targets:
    """The stack's resources a grant can name."""

    tables: Mapping[str, Any]  # logical name -> dynamodb.CfnTable
    queues: Mapping[str, Any]  # logical name -> sqs.Queue
    bucket: Any  # s3.Bucket
    sender: str
    log_statement: iam.PolicyStatement
    key_arn: str | None = None


def grants_for(logical_id: str) -> Grants:
    try:
        return GRANTS[logical_id]
    except KeyError:
        raise ValueError(
            f"the function {logical_id} has no entry in infra/stacks/permissions.py GRANTS: declare what it may do"
        ) from None


def statements(grants: Grants, targets: Targets) -> list[iam.PolicyStatement]:
    found: list[iam.PolicyStatement] = []
    for logical, actions in sorted(grants.tables.items()):
        table = targets.tables[logical]
        resources = [table.attr_arn] + ([f"{table.attr_arn}/index/*"] if "dynamodb:Query" in actions else [])
        found.append(iam.PolicyStatement(actions=sorted(set(actions)), resources=resources))
    if grants.consumes:
        queue = targets.queues[grants.consumes].queue
        found.append(iam.PolicyStatement(actions=list(CONSUME), resources=[queue.queue_arn]))
    if grants.sends_to:
        arns = [targets.queues[logical].queue.queue_arn for logical in grants.sends_to]
        found.append(iam.PolicyStatement(actions=list(SEND), resources=arns))
    if grants.objects:
        found.append(
            iam.PolicyStatement(actions=sorted(grants.objects), resources=[targets.bucket.arn_for_objects("exports/*")])
        )
    if grants.list_bucket:
        found.append(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[targets.bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": ["exports/*"]}},
            )
        )
    if grants.email:
        identities = cdk.Stack.of(targets.bucket).format_arn(service="ses", resource="identity", resource_name="*")
        found.append(
            iam.PolicyStatement(
                actions=["ses:SendEmail", "ses:SendRawEmail"],
                resources=[identities],
                conditions={"StringEquals": {"ses:FromAddress": targets.sender}},
            )
        )
    if grants.sms:
        # SMS goes to a phone number, which has no ARN: SNS authorises direct publishing
        # only against "*". NotResource keeps every topic out of reach.
        found.append(iam.PolicyStatement(actions=["sns:Publish"], not_resources=["arn:*:sns:*:*:*"]))
    if grants.kms:
        if targets.key_arn is None:
            raise ValueError("a function uses the signing-secrets key, but the stack has none")
        found.append(
            iam.PolicyStatement(
                actions=sorted(grants.kms),
                resources=[targets.key_arn],
                conditions={"StringEquals": {"kms:EncryptionContext:purpose": SIGNING_PURPOSE}},
            )
        )
    found.append(iam.PolicyStatement(actions=list(TRACING), resources=["*"]))
    found.append(targets.log_statement)
    return found


def function_role(scope: Construct, logical_id: str, targets: Targets) -> iam.Role:
    grants = grants_for(logical_id)
    return iam.Role(
        scope,
        f"{logical_id}Role",
        description=f"Valhalla {grants.description or logical_id}.",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        inline_policies={logical_id: iam.PolicyDocument(statements=statements(grants, targets))},
    )
