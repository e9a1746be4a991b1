"""The whole system as one CloudFormation stack per stage.

Tables come from the PynamoDB models, queues from ``settings.QUEUES``, functions,
queue bindings and schedules from the Chalice app itself (``chalice package``):
a model, queue or handler added to the code appears here without an edit.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from chalice.cdk import Chalice
from chalice.utils import to_cfn_resource_name
from constructs import Construct

from chalicelib.settings import QUEUES, Settings
from chalicelib.store.base import table_spec, ttl_attribute
from chalicelib.store.models import all_models
from stacks import config
from stacks.api import configure_api
from stacks.checkov import record_exceptions
from stacks.names import dead_letter_queue_name, function_name, name_variables, stack_name
from stacks.permissions import Targets, function_role


@dataclass
class Queue:
    logical: str
    queue: sqs.Queue
    dead_letter: sqs.Queue
    settings: config.QueueSettings


def _camel(name: str) -> str:
    return to_cfn_resource_name(name)


class ValhallaStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        stage: config.StageConfig,
        settings: Settings,
        source_dir: Path,
        email_sender: str | None = None,
        alarm_email: str | None = None,
        alarm_topic: bool | None = None,
        **kwargs: Any,
    ) -> None:
        # The construct id is the Chalice stage name (chalice.cdk uses the scope's name).
        super().__init__(scope, stage.name, stack_name=stack_name(stage.name), **kwargs)
        self.stage = stage
        self.settings = settings
        removal = cdk.RemovalPolicy.RETAIN if stage.retain_data else cdk.RemovalPolicy.DESTROY

        self.tables = {_logical(model): self._table(model, removal) for model in all_models()}
        self.queues = {logical: self._queue(logical) for logical in QUEUES}
        self.bucket = self._bucket(removal)

        self.signing_key = self._signing_key()
        sender = email_sender or settings.email_sender
        self.targets = Targets(
            self.tables, self.queues, self.bucket, sender, self._log_statement(), self.signing_key.key_arn
        )
        # Chalice needs one role to package with; every function then gets its own (permissions.py).
        self.roles = {"APIHandler": function_role(self, "APIHandler", self.targets)}

        environment = {
            **name_variables(settings),
            "VALHALLA_EXPORTS_BUCKET": self.bucket.bucket_name,
            "VALHALLA_EMAIL_SENDER": sender,
            "VALHALLA_LOG_LEVEL": stage.log_level,
            # Every container signs and checks pagination cursors with the same key.
            "VALHALLA_CURSOR_SECRET": self._cursor_secret().secret_value.unsafe_unwrap(),
            **stage.environment,
        }
        self.chalice = Chalice(
            self,
            "ChaliceApp",
            source_dir=str(source_dir),
            stage_config={
                "environment_variables": environment,
                "manage_iam_role": False,
                "autogen_policy": False,
                "iam_role_arn": self.roles["APIHandler"].role_arn,
                "lambda_timeout": config.DEFAULT_FUNCTION_TIMEOUT_SECONDS,
                "lambda_memory_size": stage.memory_mb,
            },
        )
        self.sam = self._packaged_template()
        self.functions = self._configure_functions()
        self.access_logs = configure_api(
            self,
            self.chalice.get_resource("RestAPI"),
            self.sam["Resources"]["RestAPI"]["Properties"]["DefinitionBody"],
            settings,
            stage.log_retention_days,
        )

        topic = self._alarm_topic(alarm_email, stage.alarm_topic if alarm_topic is None else alarm_topic)
        self._alarms(topic)

        record_exceptions(self)

        cdk.CfnOutput(self, "ExportsBucketName", value=self.bucket.bucket_name)
        cdk.CfnOutput(self, "Stage", value=stage.name)
        if topic is not None:
            cdk.CfnOutput(self, "AlarmTopicArn", value=topic.topic_arn)

    # -- data ---------------------------------------------------------------

    def _cursor_secret(self) -> secretsmanager.Secret:
        return secretsmanager.Secret(
            self,
            "CursorSecret",
            description="Valhalla: HMAC key of pagination cursors.",
            generate_secret_string=secretsmanager.SecretStringGenerator(exclude_punctuation=True, password_length=48),
        )

    def _table(self, model: Any, removal: cdk.RemovalPolicy) -> dynamodb.CfnTable:
        """One table exactly as the model's CreateTable request says, plus the stage's protections."""
        spec = table_spec(model)
        ttl = ttl_attribute(model)
        table = dynamodb.CfnTable(
            self,
            f"{_camel(_logical(model))}Table",
            table_name=spec["TableName"],
            key_schema=[dynamodb.CfnTable.KeySchemaProperty(**_snake(key)) for key in spec["KeySchema"]],
            attribute_definitions=[
                dynamodb.CfnTable.AttributeDefinitionProperty(**_snake(item)) for item in spec["AttributeDefinitions"]
            ],
            global_secondary_indexes=[
                dynamodb.CfnTable.GlobalSecondaryIndexProperty(
                    index_name=index["IndexName"],
                    key_schema=[dynamodb.CfnTable.KeySchemaProperty(**_snake(key)) for key in index["KeySchema"]],
                    projection=dynamodb.CfnTable.ProjectionProperty(
                        projection_type=index["Projection"].get("ProjectionType"),
                        non_key_attributes=index["Projection"].get("NonKeyAttributes"),
                    ),
                )
                for index in spec.get("GlobalSecondaryIndexes", [])
            ]
            or None,
            billing_mode=spec["BillingMode"],
            point_in_time_recovery_specification=dynamodb.CfnTable.PointInTimeRecoverySpecificationProperty(
                point_in_time_recovery_enabled=True
            ),
            sse_specification=dynamodb.CfnTable.SSESpecificationProperty(sse_enabled=True),
            deletion_protection_enabled=self.stage.deletion_protection,
            time_to_live_specification=(
                dynamodb.CfnTable.TimeToLiveSpecificationProperty(attribute_name=ttl, enabled=True) if ttl else None
            ),
        )
        table.apply_removal_policy(removal)
        return table

    def _queue(self, logical: str) -> Queue:
        settings = config.queue_settings(logical)
        name = self.settings.queue(logical)
        dead_letter = sqs.Queue(
            self,
            f"{_camel(logical)}DeadLetterQueue",
            queue_name=dead_letter_queue_name(name),
            retention_period=cdk.Duration.days(config.DLQ_RETENTION_DAYS),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        queue = sqs.Queue(
            self,
            f"{_camel(logical)}Queue",
            queue_name=name,
            visibility_timeout=cdk.Duration.seconds(settings.visibility_timeout_seconds),
            retention_period=cdk.Duration.days(settings.retention_days),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=settings.max_receive_count, queue=dead_letter),
        )
        return Queue(logical, queue, dead_letter, settings)

    def _bucket(self, removal: cdk.RemovalPolicy) -> s3.Bucket:
        # The name is left to CloudFormation: bucket names are global across accounts.
        return s3.Bucket(
            self,
            "ExportsBucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="abort-incomplete-uploads", abort_incomplete_multipart_upload_after=cdk.Duration.days(1)
                )
            ],
            removal_policy=removal,
        )

    def _signing_key(self) -> kms.Key:
        """Seals webhook signing secrets (envelope encryption); the functions find it by its alias."""
        key = kms.Key(
            self,
            "SigningSecretsKey",
            description=f"Valhalla {self.stage.name}: webhook signing secrets at rest",
            enable_key_rotation=True,
            # Without the key every stored secret is lost: it outlives the stack unless the data does not.
            removal_policy=cdk.RemovalPolicy.RETAIN if self.stage.retain_data else cdk.RemovalPolicy.DESTROY,
        )
        key.add_alias(self.settings.signing_key_id)
        return key

    # -- permissions --------------------------------------------------------

    def _log_statement(self) -> iam.PolicyStatement:
        # The functions' log groups are created by this stack (fixed names), so no CreateLogGroup.
        prefix = function_name(self.stage.name, "")
        return iam.PolicyStatement(
            sid="WriteOwnLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[
                self.format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=f"/aws/lambda/{prefix}*",
                    arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                )
                + ":*"
            ],
        )

    # -- functions ----------------------------------------------------------

    def _packaged_template(self) -> dict[str, Any]:
        """The SAM template ``chalice package`` wrote: the source of function and event logical ids."""
        path = os.path.join(self.chalice._sam_package_dir, "sam.json")
        with open(path) as handle:
            template: dict[str, Any] = json.load(handle)
        return template

    def _configure_functions(self) -> dict[str, str]:
        """Names, timeouts, roles, log groups and queue bindings of every packaged function.

        Returns logical id -> function name.
        """
        queue_by_physical = {self.settings.queue(q.logical): q for q in self.queues.values()}
        functions: dict[str, str] = {}
        for logical_id, resource in sorted(self.sam["Resources"].items()):
            if resource["Type"] != "AWS::Serverless::Function":
                continue
            cfn = self.chalice.get_resource(logical_id)
            name = function_name(self.stage.name, logical_id)
            functions[logical_id] = name
            cfn.add_property_override("FunctionName", name)
            log_group = logs.CfnLogGroup(
                self,
                f"{logical_id}Logs",
                log_group_name=f"/aws/lambda/{name}",
                retention_in_days=self.stage.log_retention_days,
            )
            log_group.apply_removal_policy(
                cdk.RemovalPolicy.RETAIN if self.stage.retain_data else cdk.RemovalPolicy.DESTROY
            )
            cfn.add_resource_dependency(log_group)
            if logical_id not in self.roles:
                self.roles[logical_id] = function_role(self, logical_id, self.targets)
            cfn.add_property_override("Role", self.roles[logical_id].role_arn)
            cfn.add_property_override("Tracing", "Active")
            reserved = config.reserved_concurrency(logical_id)
            cfn.add_property_override("ReservedConcurrentExecutions", reserved)
            timeouts = []
            for event_id, event in resource["Properties"].get("Events", {}).items():
                if event["Type"] == "SQS":
                    queue = queue_by_physical.get(_queue_name(event["Properties"]["Queue"]))
                    if queue is None:
                        raise ValueError(f"{logical_id} consumes a queue that is not in settings.QUEUES: {event}")
                    prefix = f"Events.{event_id}.Properties"
                    cfn.add_property_override(f"{prefix}.Queue", queue.queue.queue_arn)
                    cfn.add_property_override(f"{prefix}.FunctionResponseTypes", ["ReportBatchItemFailures"])
                    # The poller takes no more batches than the function may run at once (a throttled
                    # batch would count as a receive and move messages towards the dead-letter queue).
                    cfn.add_property_override(f"{prefix}.ScalingConfig", {"MaximumConcurrency": max(2, reserved)})
                    timeouts.append(queue.settings.consumer_timeout_seconds)
                elif event["Type"] == "Schedule":
                    timeouts.append(config.schedule_timeout_seconds(event["Properties"]["Schedule"]))
            if timeouts:
                # A queue's visibility timeout was set from the same number (config.QUEUES).
                cfn.add_property_override("Timeout", min(timeouts))
        return functions

    # -- alarms -------------------------------------------------------------

    def _alarm_topic(self, email: str | None, wanted: bool) -> sns.Topic | None:
        if not (wanted or email):
            return None
        topic = sns.Topic(self, "AlarmTopic", display_name=f"Valhalla {self.stage.name} alarms", enforce_ssl=True)
        if email:
            topic.add_subscription(subscriptions.EmailSubscription(email))
        return topic

    def _alarms(self, topic: sns.Topic | None) -> None:
        alarms: list[cloudwatch.Alarm] = []
        for q in self.queues.values():
            alarms.append(
                cloudwatch.Alarm(
                    self,
                    f"{_camel(q.logical)}DeadLetterAlarm",
                    alarm_description=f"Messages of the {q.logical} queue gave up and wait in its dead-letter queue.",
                    metric=q.dead_letter.metric_approximate_number_of_messages_visible(
                        period=cdk.Duration.minutes(5), statistic="Maximum"
                    ),
                    threshold=1,
                    evaluation_periods=1,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
            )
        for logical_id, name in self.functions.items():
            alarms.append(
                cloudwatch.Alarm(
                    self,
                    f"{logical_id}ErrorsAlarm",
                    alarm_description=f"The {logical_id} function failed (errors or timeouts).",
                    metric=cloudwatch.Metric(
                        namespace="AWS/Lambda",
                        metric_name="Errors",
                        dimensions_map={"FunctionName": name},
                        period=cdk.Duration.minutes(5),
                        statistic="Sum",
                    ),
                    threshold=1,
                    evaluation_periods=1,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
            )
        if topic is not None:
            action = cloudwatch_actions.SnsAction(topic)
            for alarm in alarms:
                alarm.add_alarm_action(action)
                alarm.add_ok_action(action)


def _logical(model: Any) -> str:
    return str(model.Meta.logical_name)


def _snake(item: dict[str, str]) -> dict[str, str]:
    """``{"AttributeName": ..}`` -> ``{"attribute_name": ..}`` for the CDK property classes."""
    out = {}
    for key, value in item.items():
        out["".join("_" + c.lower() if c.isupper() else c for c in key).lstrip("_")] = value
    return out


def _queue_name(queue: Any) -> str:
    """The queue name out of the ARN ``chalice package`` writes (``Fn::Sub`` of arn:...:name)."""
    arn = queue["Fn::Sub"] if isinstance(queue, dict) else queue
    return str(arn).rsplit(":", 1)[-1]
