"""The security review's infrastructure items, read from the synthesized template (issue 11).

Item 14: every path answers methods it does not serve with 405 (an ``ANY`` mock method),
item 15: stage throttling from settings, item 17's real findings: access logs and tracing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from stacks.api import method_settings
from stacks.gateway import ANY_METHOD
from stacks.names import stage_settings

from chalicelib.local.gateway import allow_header, method_not_allowed_body
from chalicelib.settings import load_settings


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: r["Properties"] for k, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}


def role_statements(template: dict[str, Any], function_id: str) -> list[dict[str, Any]]:
    role_id = functions(template)[function_id]["Role"]["Fn::GetAtt"][0]
    (policy,) = template["Resources"][role_id]["Properties"]["Policies"]
    return list(policy["PolicyDocument"]["Statement"])


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def grants(template: dict[str, Any], function_id: str) -> dict[str, set[str]]:
    """Action -> the logical ids of the resources it is granted on ("*" for any)."""
    resource_ids = set(template["Resources"])
    found: dict[str, set[str]] = {}
    for statement in role_statements(template, function_id):
        targets = set()
        for resource in listed(statement.get("Resource", statement.get("NotResource"))):
            text = json.dumps(resource)
            named = {rid for rid in resource_ids if f'"{rid}"' in text}
            targets |= named or {"*"}
        for action in listed(statement["Action"]):
            found.setdefault(action, set()).update(targets)
    return found


def table_id(template: dict[str, Any], logical: str) -> str:
    from stacks.names import stage_settings

    name = stage_settings("dev").table(logical)
    (found,) = [k for k, r in template["Resources"].items() if r["Properties"].get("TableName") == name]
    return found


def rest_api(template: dict[str, Any]) -> dict[str, Any]:
    (api,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Api"]
    return dict(api["Properties"])


# --- item 14 -----------------------------------------------------------------------------


def test_item14_every_path_answers_405_for_methods_it_does_not_serve(dev: dict[str, Any]) -> None:
    from app import app

    paths = rest_api(dev)["DefinitionBody"]["paths"]
    assert set(app.routes) == set(paths)
    for path, served in app.routes.items():
        catch_all = paths[path][ANY_METHOD]
        assert "security" not in catch_all  # no authorizer runs: the answer reveals nothing
        integration = catch_all["x-amazon-apigateway-integration"]
        assert integration["type"] == "mock"
        (answer,) = integration["responses"].values()
        assert answer["statusCode"] == "405"
        assert json.loads(answer["responseTemplates"]["application/json"]) == method_not_allowed_body()
        assert answer["responseParameters"]["method.response.header.Allow"] == f"'{allow_header(served)}'"
        # The served methods still go to the function.
        for method in served:
            assert paths[path][method.lower()]["x-amazon-apigateway-integration"]["type"] == "aws_proxy"


# --- item 15 -----------------------------------------------------------------------------


def test_item15_the_stage_throttles_every_method_with_the_stages_settings(
    dev: dict[str, Any], prod: dict[str, Any]
) -> None:
    for template, stage in ((dev, "dev"), (prod, "prod")):
        settings = stage_settings(stage)
        (throttle,) = rest_api(template)["MethodSettings"]
        assert throttle["ResourcePath"] == "/*" and throttle["HttpMethod"] == "*"
        assert throttle["ThrottlingRateLimit"] == settings.api_throttle_rate > 0
        assert throttle["ThrottlingBurstLimit"] == settings.api_throttle_burst >= settings.api_throttle_rate


def test_item15_throttling_comes_from_the_valhalla_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALHALLA_API_THROTTLE_RATE", "7.5")
    monkeypatch.setenv("VALHALLA_API_THROTTLE_BURST", "15")
    (throttle,) = method_settings(load_settings())
    assert (throttle["ThrottlingRateLimit"], throttle["ThrottlingBurstLimit"]) == (7.5, 15)
    monkeypatch.setenv("VALHALLA_API_THROTTLE_RATE", "0")
    with pytest.raises(ValueError, match="VALHALLA_API_THROTTLE_RATE"):
        load_settings()


# --- item 17: access logs and tracing -----------------------------------------------------


def test_item17_the_api_writes_access_logs_and_traces(dev: dict[str, Any]) -> None:
    api = rest_api(dev)
    assert api["TracingEnabled"] is True
    destination = api["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0]
    group = dev["Resources"][destination]
    assert group["Type"] == "AWS::Logs::LogGroup" and group["Properties"]["RetentionInDays"] > 0
    fields = json.loads(api["AccessLogSetting"]["Format"])
    assert {"requestId", "ip", "principal", "method", "path", "status"} <= set(fields)
    accounts = [r for r in dev["Resources"].values() if r["Type"] == "AWS::ApiGateway::Account"]
    assert len(accounts) == 1


# --- item 2 ------------------------------------------------------------------------------


def test_item02_the_delivery_function_and_its_queue_outlast_any_attempt(dev: dict[str, Any]) -> None:
    from stacks import config

    settings = stage_settings("dev")
    notifications = config.queue_settings("notifications")
    (function,) = [
        r["Properties"]
        for r in dev["Resources"].values()
        if r["Type"] == "AWS::Serverless::Function" and "DeliverNotifications" in r["Properties"]["FunctionName"]
    ]
    assert function["Timeout"] == notifications.consumer_timeout_seconds > settings.attempt_ceiling_seconds
    assert notifications.visibility_timeout_seconds > function["Timeout"]
    assert settings.lease_seconds > settings.attempt_ceiling_seconds


# --- item 5 ------------------------------------------------------------------------------


def test_item05_every_function_has_a_role_of_its_own(dev: dict[str, Any]) -> None:
    roles = {function["Role"]["Fn::GetAtt"][0] for function in functions(dev).values()}
    assert len(roles) == len(functions(dev)) >= 7


def test_item05_the_api_cannot_bulk_delete_delete_objects_or_send(dev: dict[str, Any]) -> None:
    api = grants(dev, "APIHandler")
    assert "dynamodb:BatchWriteItem" not in api
    assert table_id(dev, "notification_outbox") not in api.get("dynamodb:DeleteItem", set())
    assert not any(action.startswith(("ses:", "sns:")) for action in api)
    assert not {"s3:DeleteObject", "s3:PutObject", "s3:AbortMultipartUpload"} & set(api)
    assert not {"sqs:ReceiveMessage", "sqs:DeleteMessage"} & set(api)  # it consumes no queue


def test_item05_only_the_delivery_function_sends_email_or_sms(dev: dict[str, Any]) -> None:
    for function_id in functions(dev):
        sends = {a for a in grants(dev, function_id) if a.startswith(("ses:", "sns:"))}
        sender = function_id == "DeliverNotifications"
        assert sends == ({"ses:SendEmail", "ses:SendRawEmail", "sns:Publish"} if sender else set()), function_id


def test_item05_only_the_purge_deletes_in_bulk(dev: dict[str, Any]) -> None:
    for function_id in functions(dev):
        bulk = grants(dev, function_id).get("dynamodb:BatchWriteItem", set())
        assert bool(bulk) == (function_id == "ProcessPurgeRuns"), function_id
    purged = grants(dev, "ProcessPurgeRuns")["dynamodb:BatchWriteItem"]
    assert table_id(dev, "api_keys") not in purged and table_id(dev, "maintenance_state") not in purged


@pytest.mark.parametrize(
    ("function_id", "tables", "queues"),
    [
        ("ApiKeyAuthorizer", {"api_keys"}, set()),
        # Delivery also emits notification.failed: the event log, its fan-out (outbox, content) and ids.
        (
            "DeliverNotifications",
            {
                "notification_outbox",
                "notification_content",
                "notification_channels",
                "stats",
                "events",
                "event_subscriptions",
                "counters",
                "channel_health",
                "rate_limits",
            },
            {"notifications"},
        ),
        ("SweepNotifications", {"notification_outbox"}, {"notifications"}),
    ],
)
def test_item05_each_worker_reaches_only_the_tables_and_queues_it_uses(
    dev: dict[str, Any], function_id: str, tables: set[str], queues: set[str]
) -> None:
    from stacks.names import stage_settings

    found = grants(dev, function_id)
    reached_tables = set().union(*(ids for action, ids in found.items() if action.startswith("dynamodb:")))
    assert reached_tables == {table_id(dev, logical) for logical in tables}
    names = stage_settings("dev")
    queue_ids = {k: r["Properties"]["QueueName"] for k, r in dev["Resources"].items() if r["Type"] == "AWS::SQS::Queue"}
    reached_queues = set().union(set(), *(ids for action, ids in found.items() if action.startswith("sqs:")))
    assert {queue_ids[q] for q in reached_queues} == {names.queue(logical) for logical in queues}
    assert not any(action.startswith("s3:") for action in found)
    # Writes are updates of existing items, apart from what the function creates (an event and its fan-out,
    # a channel's health state).
    assert "dynamodb:DeleteItem" not in found
    creates = {"events", "notification_outbox", "notification_content", "counters", "channel_health", "rate_limits"}
    assert found.get("dynamodb:PutItem", set()) <= {table_id(dev, logical) for logical in creates}
    if function_id == "SweepNotifications":
        assert "dynamodb:PutItem" not in found
