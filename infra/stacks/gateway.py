"""API Gateway's own error answers, in the project's one error shape ``{"status_code": N, "detail": ...}``.

API Gateway answers some requests before any function runs: a missing
``Authorization`` header, an unknown path, throttling, a failing authorizer. Without
these templates a client would see ``{"message": "..."}`` there and
``{"status_code", "detail"}`` everywhere else.
"""

from __future__ import annotations

import json
from typing import Any

# Gateway response type -> (status code, detail). ``None`` keeps API Gateway's own
# message (``$context.error.messageString`` is that message, already JSON-quoted).
RESPONSES: dict[str, tuple[int, str | None]] = {
    "UNAUTHORIZED": (401, "Missing or invalid API key."),
    "ACCESS_DENIED": (403, "Your API key's role does not allow this."),
    "EXPIRED_TOKEN": (401, "Missing or invalid API key."),
    "INVALID_SIGNATURE": (403, None),
    "INVALID_API_KEY": (403, None),
    # API Gateway says "Missing Authentication Token" for a path or method it does not route.
    "MISSING_AUTHENTICATION_TOKEN": (404, "Not found."),
    "RESOURCE_NOT_FOUND": (404, "Not found."),
    "BAD_REQUEST_BODY": (400, None),
    "BAD_REQUEST_PARAMETERS": (400, None),
    "REQUEST_TOO_LARGE": (413, "Request body too large."),
    "UNSUPPORTED_MEDIA_TYPE": (415, "Content-Type must be application/json."),
    "THROTTLED": (429, "Too many requests."),
    "QUOTA_EXCEEDED": (429, "Too many requests."),
    "WAF_FILTERED": (403, None),
    "AUTHORIZER_FAILURE": (500, "Internal server error."),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, "Internal server error."),
    "API_CONFIGURATION_ERROR": (500, "Internal server error."),
    "INTEGRATION_FAILURE": (502, "Bad gateway."),
    "INTEGRATION_TIMEOUT": (504, "Gateway timeout."),
    # Any type API Gateway adds later.
    "DEFAULT_4XX": (400, None),
    "DEFAULT_5XX": (500, "Internal server error."),
}


def body_template(status: int, detail: str | None) -> str:
    detail_json = "$context.error.messageString" if detail is None else json.dumps(detail)
    return f'{{"status_code": {status}, "detail": {detail_json}}}'


def gateway_responses() -> dict[str, Any]:
    """The ``x-amazon-apigateway-gateway-responses`` extension of the API's OpenAPI definition.

    It is part of the definition, so a change redeploys the API stage with it.
    """
    responses: dict[str, Any] = {}
    for response_type, (status, detail) in RESPONSES.items():
        headers = {"gatewayresponse.header.Content-Type": "'application/json'"}
        if status == 401:
            headers["gatewayresponse.header.WWW-Authenticate"] = "'Bearer'"
        responses[response_type] = {
            "statusCode": str(status),
            "responseParameters": headers,
            "responseTemplates": {"application/json": body_template(status, detail)},
        }
    return responses
