"""The synthesized CloudFormation template, checked without an AWS account.

The truth it is compared with is the code: the PynamoDB models (``table_spec``),
``settings.QUEUES``, and the event handlers and authorizers of ``app.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from chalice.app import ScheduledEventConfig, SQSEventConfig
from chalice.utils import to_cfn_resource_name
from stacks import config
from stacks.gateway import RESPONSES
from stacks.names import dead_letter_queue_name, function_name, stage_settings

from chalicelib.settings import QUEUES, TABLES, get_settings
from chalicelib.store.base import table_spec, ttl_attribute
from chalicelib.store.models import all_models
from tests.infra.conftest import Synthesized

# --- helpers -----------------------------------------------------------------


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {key: value for key, value in template["Resources"].items() if value["Type"] == kind}


def props(resource: dict[str, Any]) -> dict[str, Any]:
    return resource.get("Properties", {})


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return resources(template, "AWS::Serverless::Function")


def queue_by_name(template: dict[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    found = [(key, q) for key, q in resources(template, "AWS::SQS::Queue").items() if props(q)["QueueName"] == name]
    assert len(found) == 1, f"one queue named {name}, found {len(found)}"
    return found[0]


def table_by_name(template: dict[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    found = [
        (key, t) for key, t in resources(template, "AWS::DynamoDB::Table").items() if props(t)["TableName"] == name
    ]
    assert len(found) == 1, f"one table named {name}, found {len(found)}"
    return found[0]


def chalice_app() -> Any:
    from app import app

    return app


def logical_queue(physical_name_in_this_process: str) -> str:
    """The handlers were registered with this process's (local) queue names."""
    names = {get_settings().queue(logical): logical for logical in QUEUES}
    if physical_name_in_this_process in names:
        return names[physical_name_in_this_process]
    # app.py was imported under other settings: the default names end with the logical name.
    (logical,) = [name for name in QUEUES if physical_name_in_this_process.endswith(f"-{name}")]
    return logical


def statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    """Every statement of every identity policy in the template."""
    found = []
    for role in resources(template, "AWS::IAM::Role").values():
        for policy in props(role).get("Policies", []):
            found.extend(policy["PolicyDocument"]["Statement"])
    for policy in resources(template, "AWS::IAM::Policy").values():
        found.extend(props(policy)["PolicyDocument"]["Statement"])
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- tables ----------------------------------------------------------------------


def test_every_model_has_a_table_identical_to_its_definition(dev: dict[str, Any]) -> None:
    names = stage_settings("dev")
    models = all_models()
    assert len(resources(dev, "AWS::DynamoDB::Table")) == len(models) == len(TABLES)
    for model in models:
        spec = table_spec(model)
        _, table = table_by_name(dev, names.table(model.Meta.logical_name))
        table = props(table)
        assert table["KeySchema"] == spec["KeySchema"], model.__name__
        assert sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == spec["AttributeDefinitions"]
        assert table["BillingMode"] == spec["BillingMode"] == "PAY_PER_REQUEST"
        indexes = sorted(table.get("GlobalSecondaryIndexes", []), key=lambda index: index["IndexName"])
        assert indexes == spec.get("GlobalSecondaryIndexes", []), model.__name__
        ttl = ttl_attribute(model)
        if ttl:
            assert table["TimeToLiveSpecification"] == {"AttributeName": ttl, "Enabled": True}
        else:
            assert "TimeToLiveSpecification" not in table


def test_every_model_class_reads_and_writes_a_table_of_the_stack(dev: dict[str, Any]) -> None:
    """Also the item classes that live in another model's table (not registered on their own)."""
    from pynamodb.models import Model

    names = stage_settings("dev")
    all_models()
    pending, seen = list(Model.__subclasses__()), 0
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        logical = getattr(getattr(model, "Meta", None), "logical_name", "")  # StoredModel, the base, has none
        if logical and model.__module__.startswith("chalicelib."):
            table_by_name(dev, names.table(logical))
            seen += 1
    assert seen >= len(TABLES)


def test_tables_are_recoverable_encrypted_and_protected_in_prod(dev: dict[str, Any], prod: dict[str, Any]) -> None:
    for template, protected in ((dev, False), (prod, True)):
        Template.from_json(template).all_resources_properties(
            "AWS::DynamoDB::Table",
            {
                "BillingMode": "PAY_PER_REQUEST",
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "SSESpecification": {"SSEEnabled": True},
                "DeletionProtectionEnabled": protected,
            },
        )
        for table in resources(template, "AWS::DynamoDB::Table").values():
            assert table["DeletionPolicy"] == ("Retain" if protected else "Delete")


# --- queues and their consumers ------------------------------------------------


def test_every_queue_has_a_dead_letter_queue_and_a_long_enough_visibility(dev: dict[str, Any]) -> None:
    names = stage_settings("dev")
    template = Template.from_json(dev)
    for logical in QUEUES:
        settings = config.queue_settings(logical)
        dlq_id, dlq = queue_by_name(dev, dead_letter_queue_name(names.queue(logical)))
        _, queue = queue_by_name(dev, names.queue(logical))
        assert props(queue)["RedrivePolicy"] == {
            "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
            "maxReceiveCount": settings.max_receive_count,
        }
        assert props(queue)["VisibilityTimeout"] == settings.visibility_timeout_seconds
        assert settings.visibility_timeout_seconds >= 6 * settings.consumer_timeout_seconds
        assert props(queue)["SqsManagedSseEnabled"] is True
        assert props(dlq)["SqsManagedSseEnabled"] is True
        # A dead letter outlives the time it took to give up on it.
        assert props(dlq)["MessageRetentionPeriod"] >= props(queue)["MessageRetentionPeriod"]
    # Every queue refuses plain HTTP.
    template.resource_count_is("AWS::SQS::QueuePolicy", 2 * len(QUEUES))
    template.all_resources_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )


def test_a_queue_that_retries_allows_every_retry_before_dead_lettering() -> None:
    # Each backoff step is one more receive of the same message.
    assert config.queue_settings("notifications").max_receive_count > len(get_settings().retry_schedule)


def test_every_sqs_handler_is_bound_to_its_queue_with_partial_batch_failures(dev: dict[str, Any]) -> None:
    names = stage_settings("dev")
    handlers = [source for source in chalice_app().event_sources if isinstance(source, SQSEventConfig)]
    assert handlers, "app.py declares SQS handlers"
    template_events = [
        event
        for function in functions(dev).values()
        for event in props(function).get("Events", {}).values()
        if event["Type"] == "SQS"
    ]
    assert len(template_events) == len(handlers)
    for handler in handlers:
        function = props(functions(dev)[to_cfn_resource_name(handler.name)])
        (event,) = [e for e in function["Events"].values() if e["Type"] == "SQS"]
        logical = logical_queue(str(handler.queue))
        queue_id, queue = queue_by_name(dev, names.queue(logical))
        # Bound to the stack's own queue (so CloudFormation creates the queue first).
        assert event["Properties"]["Queue"] == {"Fn::GetAtt": [queue_id, "Arn"]}
        assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert event["Properties"]["BatchSize"] == handler.batch_size
        # One number sets both: the consumer's timeout and six times it for the queue.
        assert function["Timeout"] == config.queue_settings(logical).consumer_timeout_seconds
        assert props(queue)["VisibilityTimeout"] >= config.VISIBILITY_FACTOR * function["Timeout"]


def test_every_schedule_of_the_app_is_an_eventbridge_rule(dev: dict[str, Any]) -> None:
    schedules = [source for source in chalice_app().event_sources if isinstance(source, ScheduledEventConfig)]
    assert schedules, "app.py declares schedules"
    template_events = {
        logical_id: event
        for logical_id, function in functions(dev).items()
        for event in props(function).get("Events", {}).values()
        if event["Type"] == "Schedule"
    }
    assert len(template_events) == len(schedules)
    for schedule in schedules:
        expression = schedule.schedule_expression
        expected = expression if isinstance(expression, str) else expression.to_string()
        event = template_events[to_cfn_resource_name(schedule.name)]
        # SAM turns a Schedule event into an AWS::Events::Rule targeting the function.
        assert event["Properties"]["Schedule"] == expected
        function = props(functions(dev)[to_cfn_resource_name(schedule.name)])
        assert function["Timeout"] == config.schedule_timeout_seconds(expected)


def test_after_the_sam_transform_every_consumer_and_schedule_exists(deployed: dict[str, dict[str, Any]]) -> None:
    """What CloudFormation will create: event source mappings and EventBridge rules."""
    sources = chalice_app().event_sources
    for stage, template in deployed.items():
        names = stage_settings(stage)
        queues = {props(q)["QueueName"]: key for key, q in resources(template, "AWS::SQS::Queue").items()}
        lambdas = resources(template, "AWS::Lambda::Function")
        mappings = [props(m) for m in resources(template, "AWS::Lambda::EventSourceMapping").values()]
        rules = [props(r) for r in resources(template, "AWS::Events::Rule").values()]
        assert "Transform" not in template
        assert len(mappings) == sum(isinstance(s, SQSEventConfig) for s in sources)
        assert len(rules) == sum(isinstance(s, ScheduledEventConfig) for s in sources)
        for source in sources:
            function_id = to_cfn_resource_name(source.name)
            assert function_id in lambdas
            if isinstance(source, SQSEventConfig):
                queue_id = queues[names.queue(logical_queue(str(source.queue)))]
                (mapping,) = [m for m in mappings if m["FunctionName"] == {"Ref": function_id}]
                assert mapping["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
                assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
            elif isinstance(source, ScheduledEventConfig):
                (rule,) = [r for r in rules if r["Targets"][0]["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}]
                expression = source.schedule_expression
                assert rule["ScheduleExpression"] == (
                    expression if isinstance(expression, str) else expression.to_string()
                )
        # Each rule may invoke its function (and API Gateway the API handler and the authorizer).
        permissions = [props(p) for p in resources(template, "AWS::Lambda::Permission").values()]
        assert sum(p["Principal"] == "events.amazonaws.com" for p in permissions) == len(rules)
        (api,) = resources(template, "AWS::ApiGateway::RestApi").values()
        assert set(props(api)["Body"]["x-amazon-apigateway-gateway-responses"]) == set(RESPONSES)


# --- the exports bucket ----------------------------------------------------------


def test_exports_bucket_is_private_encrypted_tls_only_and_cleans_up_uploads(dev: dict[str, Any]) -> None:
    template = Template.from_json(dev)
    template.resource_count_is("AWS::S3::Bucket", 1)
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        Match.object_like(
                            {"Status": "Enabled", "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}
                        )
                    ]
                )
            },
        },
    )
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "s3:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )


# --- functions -------------------------------------------------------------------


def test_functions_get_every_name_as_a_valhalla_variable(dev: dict[str, Any]) -> None:
    names = stage_settings("dev")
    (bucket_id,) = resources(dev, "AWS::S3::Bucket")
    assert functions(dev)
    for logical_id, function in functions(dev).items():
        variables = props(function)["Environment"]["Variables"]
        assert variables["VALHALLA_STAGE"] == "dev"
        for logical, var in TABLES.items():
            assert variables[var] == names.table(logical)
            table_by_name(dev, variables[var])
        for logical, var in QUEUES.items():
            assert variables[var] == names.queue(logical)
            queue_by_name(dev, variables[var])
        assert variables["VALHALLA_EXPORTS_BUCKET"] == {"Ref": bucket_id}
        assert props(function)["FunctionName"] == function_name("dev", logical_id)


def test_every_function_logs_to_a_group_with_retention_created_first(dev: dict[str, Any], prod: dict[str, Any]) -> None:
    for template, stage in ((dev, "dev"), (prod, "prod")):
        groups = resources(template, "AWS::Logs::LogGroup")
        by_name = {props(group)["LogGroupName"]: key for key, group in groups.items()}
        for function in functions(template).values():
            group_id = by_name[f"/aws/lambda/{props(function)['FunctionName']}"]
            assert props(groups[group_id])["RetentionInDays"] == config.STAGES[stage].log_retention_days
            assert group_id in as_list(function.get("DependsOn", []))


def test_the_lambda_package_holds_the_app_but_not_the_cdk(synthesized: dict[str, Synthesized]) -> None:
    outdir = synthesized["dev"].outdir
    (asset,) = outdir.glob("asset.*.zip")
    with zipfile.ZipFile(asset) as package:
        names = package.namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert {"app.py", "chalicelib", "pynamodb", "pydantic", "cryptography"} <= tops
    assert not {"aws_cdk", "jsii", "constructs", "cfnlint", "moto", "infra", "tests"} & tops


# --- permissions -----------------------------------------------------------------


def test_no_statement_grants_everything(dev: dict[str, Any], prod: dict[str, Any]) -> None:
    for template in (dev, prod):
        found = statements(template)
        assert found
        for statement in found:
            assert statement["Effect"] == "Allow"
            actions = as_list(statement["Action"])
            assert "*" not in actions
            assert not any(action.endswith(":*") for action in actions), statement
            # Resource "*" appears only for X-Ray's write actions, which have no resource-level
            # permissions; SMS uses NotResource (below).
            if "*" in as_list(statement.get("Resource", [])):
                assert sorted(actions) == ["xray:PutTelemetryRecords", "xray:PutTraceSegments"], statement


def test_roles_reach_only_their_own_tables_queues_and_bucket(dev: dict[str, Any]) -> None:
    own_tables = set(resources(dev, "AWS::DynamoDB::Table"))
    main_queues = {key for key, q in resources(dev, "AWS::SQS::Queue").items() if "RedrivePolicy" in props(q)}
    for statement in statements(dev):
        actions = as_list(statement["Action"])
        services = {action.split(":")[0] for action in actions}
        assert len(services) == 1, statement
        service = services.pop()
        if service == "dynamodb":
            for resource in as_list(statement["Resource"]):
                text = json.dumps(resource)
                assert any(f'"{table}"' in text for table in own_tables), resource
        elif service == "sqs":
            assert {resource["Fn::GetAtt"][0] for resource in as_list(statement["Resource"])} <= main_queues
        elif service == "s3":
            assert all("ExportsBucket" in json.dumps(r) for r in as_list(statement["Resource"]))
        elif service == "ses":
            assert set(actions) == {"ses:SendEmail", "ses:SendRawEmail"}
            assert "ses:FromAddress" in statement["Condition"]["StringEquals"]
        elif service == "sns":
            # Direct SMS has no ARN to name; NotResource excludes every topic.
            assert actions == ["sns:Publish"] and statement["NotResource"] == "arn:*:sns:*:*:*"
        elif service == "kms":
            # Only the signing-secrets key, only for sealing and opening signing secrets.
            assert set(actions) <= {"kms:GenerateDataKey", "kms:Decrypt"}
            assert statement["Resource"]["Fn::GetAtt"][0].startswith("SigningSecretsKey")
            assert statement["Condition"] == {
                "StringEquals": {"kms:EncryptionContext:purpose": "webhook-signing-secret"}
            }
        elif service == "xray":
            assert set(actions) == {"xray:PutTelemetryRecords", "xray:PutTraceSegments"}
        elif service == "logs":
            assert set(actions) == {"logs:CreateLogStream", "logs:PutLogEvents"}
            assert "/aws/lambda/valhalla-dev-" in json.dumps(statement["Resource"])
        else:
            pytest.fail(f"unexpected grant: {statement}")


def test_the_authorizer_can_only_read_api_keys(dev: dict[str, Any]) -> None:
    authorizers = [to_cfn_resource_name(auth.name) for auth in chalice_app().builtin_auth_handlers]
    assert authorizers
    roles = resources(dev, "AWS::IAM::Role")
    for logical_id in authorizers:
        (role_id, _) = props(functions(dev)[logical_id])["Role"]["Fn::GetAtt"]
        (policy,) = props(roles[role_id])["Policies"]
        found = policy["PolicyDocument"]["Statement"]
        data = [s for s in found if not as_list(s["Action"])[0].startswith(("logs:", "xray:"))]
        assert data == [
            {
                "Action": "dynamodb:GetItem",
                "Effect": "Allow",
                "Resource": {"Fn::GetAtt": ["ApiKeysTable", "Arn"]},
            }
        ]
    others = {props(f)["Role"]["Fn::GetAtt"][0] for key, f in functions(dev).items() if key not in authorizers}
    assert len(others) == len(functions(dev)) - len(authorizers)  # one role per function


# --- the API ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response_type", "status"),
    [
        ("UNAUTHORIZED", 401),
        ("ACCESS_DENIED", 403),
        ("MISSING_AUTHENTICATION_TOKEN", 404),
        ("DEFAULT_4XX", 400),
        ("DEFAULT_5XX", 500),
    ],
)
def test_gateway_errors_have_the_one_error_shape(dev: dict[str, Any], response_type: str, status: int) -> None:
    (api,) = resources(dev, "AWS::Serverless::Api").values()
    responses = props(api)["DefinitionBody"]["x-amazon-apigateway-gateway-responses"]
    assert set(RESPONSES) <= set(responses)
    response = responses[response_type]
    assert response["statusCode"] == str(status)
    assert response["responseParameters"]["gatewayresponse.header.Content-Type"] == "'application/json'"
    # API Gateway substitutes $context.error.messageString with a JSON string.
    body = response["responseTemplates"]["application/json"].replace(
        "$context.error.messageString", json.dumps("Some gateway message")
    )
    assert set(json.loads(body)) == {"status_code", "detail"}
    assert json.loads(body)["status_code"] == status
    assert isinstance(json.loads(body)["detail"], str)


def test_gateway_errors_are_the_ones_the_local_stack_answers(dev: dict[str, Any]) -> None:
    from chalicelib.local.gateway import GATEWAY_HEADERS, GATEWAY_RESPONSES, gateway_body

    (api,) = resources(dev, "AWS::Serverless::Api").values()
    responses = props(api)["DefinitionBody"]["x-amazon-apigateway-gateway-responses"]
    for response_type in GATEWAY_RESPONSES:
        response = responses[response_type]
        assert json.loads(response["responseTemplates"]["application/json"]) == gateway_body(response_type)
        assert response["statusCode"] == str(gateway_body(response_type)["status_code"])
        for name, value in GATEWAY_HEADERS.get(response_type, {}).items():
            assert response["responseParameters"][f"gatewayresponse.header.{name}"] == f"'{value}'"


def test_the_api_url_is_an_output(dev: dict[str, Any]) -> None:
    assert "EndpointURL" in dev["Outputs"]
    assert "ExportsBucketName" in dev["Outputs"]


# --- alarms ----------------------------------------------------------------------


def test_alarms_watch_every_dead_letter_queue_and_every_function(dev: dict[str, Any], prod: dict[str, Any]) -> None:
    for template in (dev, prod):
        alarms = [props(alarm) for alarm in resources(template, "AWS::CloudWatch::Alarm").values()]
        dlqs = {key for key, q in resources(template, "AWS::SQS::Queue").items() if "RedrivePolicy" not in props(q)}
        watched_queues = {
            alarm["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
            for alarm in alarms
            if alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        }
        assert watched_queues == dlqs
        watched_functions = {alarm["Dimensions"][0]["Value"] for alarm in alarms if alarm["Namespace"] == "AWS/Lambda"}
        assert watched_functions == {props(f)["FunctionName"] for f in functions(template).values()}
        assert all(alarm["MetricName"] == "Errors" for alarm in alarms if alarm["Namespace"] == "AWS/Lambda")
        assert all(alarm["Threshold"] == 1 for alarm in alarms)


def test_prod_alarms_notify_the_operators_topic_and_dev_has_none(dev: dict[str, Any], prod: dict[str, Any]) -> None:
    (topic_id,) = resources(prod, "AWS::SNS::Topic")
    for alarm in resources(prod, "AWS::CloudWatch::Alarm").values():
        assert props(alarm)["AlarmActions"] == [{"Ref": topic_id}]
    assert not resources(dev, "AWS::SNS::Topic")
    assert all("AlarmActions" not in props(alarm) for alarm in resources(dev, "AWS::CloudWatch::Alarm").values())


# --- stages ----------------------------------------------------------------------


def test_stages_differ_only_as_the_stage_config_says(dev: dict[str, Any], prod: dict[str, Any]) -> None:
    for template, stage in ((dev, config.STAGES["dev"]), (prod, config.STAGES["prod"])):
        names = stage_settings(stage.name)
        table_by_name(template, names.table("api_keys"))
        queue_by_name(template, names.queue("notifications"))
        for function in functions(template).values():
            assert props(function)["Environment"]["Variables"]["VALHALLA_LOG_LEVEL"] == stage.log_level
            assert props(function)["MemorySize"] == stage.memory_mb
        bucket = next(iter(resources(template, "AWS::S3::Bucket").values()))
        assert bucket["DeletionPolicy"] == ("Retain" if stage.retain_data else "Delete")
    # Same resources in both, apart from the operators' topic.
    kinds = {kind for kind in {r["Type"] for r in dev["Resources"].values()}}
    assert kinds | {"AWS::SNS::Topic", "AWS::SNS::TopicPolicy"} == {r["Type"] for r in prod["Resources"].values()}


# --- cfn-lint --------------------------------------------------------------------

# cfn-lint rules ignored, each with its reason. None is needed today.
IGNORED_RULES: dict[str, str] = {}


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_cfn_lint_finds_nothing(synthesized: dict[str, Synthesized], stage: str) -> None:
    command = [sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.exit(main())"]
    command += ["--format", "parseable"]
    if IGNORED_RULES:
        command += ["--ignore-checks", *IGNORED_RULES]
    result = subprocess.run(
        [*command, "--", str(synthesized[stage].template_path)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""
