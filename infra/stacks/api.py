"""The API stage's guards: methods nobody serves, throttling, access logs and tracing.

Chalice writes the API's OpenAPI definition; these are overrides on top of it, so a
route added to the app gets them without an edit here.
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from chalicelib.settings import Settings
from stacks.gateway import ANY_METHOD, any_methods, gateway_responses

# One JSON line per request: who, what, the answer, how long (no bodies, no tokens).
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "principal": "$context.authorizer.principalId",
    "keyId": "$context.authorizer.key_id",
    "time": "$context.requestTime",
    "method": "$context.httpMethod",
    "path": "$context.resourcePath",
    "status": "$context.status",
    "bytes": "$context.responseLength",
    "latencyMs": "$context.responseLatency",
    "error": "$context.error.responseType",
}


def method_settings(settings: Settings) -> list[dict[str, Any]]:
    """Stage throttling for every method: the outer guard, whatever key (or none) a request carries."""
    return [
        {
            "ResourcePath": "/*",
            "HttpMethod": "*",
            "ThrottlingRateLimit": settings.api_throttle_rate,
            "ThrottlingBurstLimit": settings.api_throttle_burst,
            "MetricsEnabled": True,
        }
    ]


def configure_api(
    scope: Construct, rest_api: cdk.CfnResource, definition: dict[str, Any], settings: Settings, retention_days: int
) -> logs.CfnLogGroup:
    """Gateway responses, ``ANY`` -> 405 on every path, throttling, access logs, X-Ray; returns the log group."""
    rest_api.add_property_override("DefinitionBody.x-amazon-apigateway-gateway-responses", gateway_responses())
    for path, method in any_methods(definition).items():
        # A dot in an override path separates keys: the one in "/system/openapi.json" is escaped.
        rest_api.add_property_override(f"DefinitionBody.paths.{_escaped(path)}.{ANY_METHOD}", method)
    rest_api.add_property_override("MethodSettings", method_settings(settings))
    access_logs = logs.CfnLogGroup(
        scope,
        "ApiAccessLogs",
        log_group_name=f"/aws/apigateway/valhalla-{settings.stage}-access",
        retention_in_days=retention_days,
    )
    rest_api.add_property_override(
        "AccessLogSetting",
        {"DestinationArn": access_logs.attr_arn, "Format": json.dumps(ACCESS_LOG_FORMAT, separators=(",", ":"))},
    )
    rest_api.add_property_override("TracingEnabled", True)
    # API Gateway writes access logs with the account's CloudWatch role (one per account and region).
    role = iam.Role(
        scope,
        "ApiGatewayLogsRole",
        description="API Gateway (account setting): write API access logs to CloudWatch Logs.",
        assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
        managed_policies=[
            iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AmazonAPIGatewayPushToCloudWatchLogs")
        ],
    )
    account = apigateway.CfnAccount(scope, "ApiGatewayAccount", cloud_watch_role_arn=role.role_arn)
    rest_api.add_resource_dependency(account)
    return access_logs


def _escaped(key: str) -> str:
    return key.replace(".", "\\.")
