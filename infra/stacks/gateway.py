"""API Gateway's own error answers, in the project's one error shape ``{"status_code": N, "detail": ...}``.

API Gateway answers some requests before any function runs: a missing
``Authorization`` header, an unknown path, throttling, a failing authorizer. Without
these templates a client would see ``{"message": "..."}`` there and
``{"status_code", "detail"}`` everywhere else.

The types the local stack also produces come from its table
(:mod:`chalicelib.local.gateway`), so local and AWS answers are the same.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.local.gateway import (
    GATEWAY_HEADERS,
    GATEWAY_RESPONSES,
    INTERNAL_ERROR,
    METHOD_NOT_ALLOWED,
    allow_header,
    method_not_allowed_body,
)

# The other response types, which only API Gateway produces. ``None`` keeps API
# Gateway's own message (``$context.error.messageString``, already JSON-quoted).
AWS_ONLY_RESPONSES: dict[str, tuple[int, str | None]] = {
    "EXPIRED_TOKEN": (401, GATEWAY_RESPONSES["UNAUTHORIZED"][1]),
    "INVALID_SIGNATURE": (403, None),
    "INVALID_API_KEY": (403, None),
    "BAD_REQUEST_BODY": (400, None),
    "BAD_REQUEST_PARAMETERS": (400, None),
    "QUOTA_EXCEEDED": (429, GATEWAY_RESPONSES["THROTTLED"][1]),
    "WAF_FILTERED": (403, None),
    "API_CONFIGURATION_ERROR": (500, INTERNAL_ERROR),
    # Any type API Gateway adds later.
    "DEFAULT_4XX": (400, None),
    "DEFAULT_5XX": (500, INTERNAL_ERROR),
}

RESPONSES: dict[str, tuple[int, str | None]] = {**AWS_ONLY_RESPONSES, **GATEWAY_RESPONSES}


def body_template(status: int, detail: str | None) -> str:
    detail_json = "$context.error.messageString" if detail is None else json.dumps(detail)
    return f'{{"status_code": {status}, "detail": {detail_json}}}'


def gateway_responses() -> dict[str, Any]:
    """The ``x-amazon-apigateway-gateway-responses`` extension of the API's OpenAPI definition.

    It is part of the definition, so a change redeploys the API stage with it.
    """
    responses: dict[str, Any] = {}
    for response_type, (status, detail) in sorted(RESPONSES.items()):
        headers = {"Content-Type": "application/json", **GATEWAY_HEADERS.get(response_type, {})}
        if status == 401:
            headers.setdefault("WWW-Authenticate", "Bearer")
        responses[response_type] = {
            "statusCode": str(status),
            "responseParameters": {f"gatewayresponse.header.{name}": f"'{value}'" for name, value in headers.items()},
            "responseTemplates": {"application/json": body_template(status, detail)},
        }
    return responses


ANY_METHOD = "x-amazon-apigateway-any-method"
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options"})


def any_method(served: list[str]) -> dict[str, Any]:
    """An ``ANY`` method for a path: every method the path does not serve answers 405, as locally.

    A mock integration (no function runs, no authorizer: the answer says nothing about
    the data). Without it API Gateway answers such a method as an unknown route.
    """
    status = str(METHOD_NOT_ALLOWED[0])
    headers = {"Content-Type": "'application/json'", "Allow": f"'{allow_header(served)}'"}
    return {
        "produces": ["application/json"],
        "responses": {
            status: {"description": "Method not allowed", "headers": {name: {"type": "string"} for name in headers}}
        },
        "x-amazon-apigateway-integration": {
            "type": "mock",
            "passthroughBehavior": "when_no_match",
            "requestTemplates": {"application/json": f'{{"statusCode": {status}}}'},
            "responses": {
                "default": {
                    "statusCode": status,
                    "responseParameters": {f"method.response.header.{name}": value for name, value in headers.items()},
                    "responseTemplates": {"application/json": json.dumps(method_not_allowed_body())},
                }
            },
        },
    }


def any_methods(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Path -> its ``ANY`` method, for every path of an OpenAPI definition."""
    return {
        path: any_method([method.upper() for method in operations if method in HTTP_METHODS])
        for path, operations in definition.get("paths", {}).items()
    }
