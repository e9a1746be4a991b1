"""Errors produced by the gateway itself, before any view runs, in the project's one error shape.

In AWS these are API Gateway "gateway responses" (a request without a token, an
unknown route...); ``infra/`` configures each type below with this status and body.
The local stack maps Chalice's local gateway errors onto the same table, so a client
sees ``{"status_code": N, "detail": "..."}`` everywhere, locally and in AWS.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from chalicelib.errors import Forbidden, Unauthorized

INTERNAL_ERROR = "Internal server error."

# API Gateway response type -> (status, detail). Types not listed keep API Gateway's default.
GATEWAY_RESPONSES: dict[str, tuple[int, str]] = {
    "UNAUTHORIZED": (401, Unauthorized.default_detail),
    "ACCESS_DENIED": (403, Forbidden.default_detail),
    "MISSING_AUTHENTICATION_TOKEN": (404, "Not found."),
    "RESOURCE_NOT_FOUND": (404, "Not found."),
    "REQUEST_TOO_LARGE": (413, "Request body too large."),
    "UNSUPPORTED_MEDIA_TYPE": (415, "Content-Type must be application/json."),
    "THROTTLED": (429, "Too many requests; retry shortly."),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, INTERNAL_ERROR),
    "AUTHORIZER_FAILURE": (500, INTERNAL_ERROR),
    "INTEGRATION_FAILURE": (502, "The service failed to answer."),
    "INTEGRATION_TIMEOUT": (504, "The service did not answer in time."),
}

# A method no route of the path serves (TRACE, CONNECT, an unknown verb, PUT on a read-only
# path): not a gateway response type, but an ``ANY`` method on every path in AWS (infra/).
METHOD_NOT_ALLOWED: tuple[int, str] = (405, "Method not allowed.")

# Headers API Gateway adds to some of them (a 401 says which scheme to use).
GATEWAY_HEADERS: dict[str, dict[str, str]] = {
    "UNAUTHORIZED": {"WWW-Authenticate": "Bearer"},
}


def gateway_body(response_type: str) -> dict[str, Any]:
    status, detail = GATEWAY_RESPONSES[response_type]
    return {"status_code": status, "detail": detail}


def gateway_template(response_type: str) -> str:
    """The JSON body for an API Gateway ``GatewayResponse`` ``application/json`` template."""
    return json.dumps(gateway_body(response_type), separators=(",", ":"))


def response_type_of(status: int, error_type: str | None) -> str:
    """Which gateway response a Chalice local gateway error stands for.

    ``error_type`` is its ``x-amzn-ErrorType`` header: an unknown route is a 403
    ``UnauthorizedException`` in API Gateway (``MISSING_AUTHENTICATION_TOKEN``); a
    policy that denies the route is an ``AccessDeniedException``.
    """
    if status == 401:
        return "UNAUTHORIZED"
    if status == 403:
        return "ACCESS_DENIED" if error_type == "AccessDeniedException" else "MISSING_AUTHENTICATION_TOKEN"
    return "AUTHORIZER_CONFIGURATION_ERROR"


def gateway_error(status: int, headers: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body to send for a gateway-level error (``LocalGatewayException``)."""
    response_type = response_type_of(status, headers.get("x-amzn-ErrorType"))
    body = gateway_body(response_type)
    sent = {
        "Content-Type": "application/json",
        **{name: str(value) for name, value in headers.items() if name.lower() == "x-amzn-requestid"},
        **GATEWAY_HEADERS.get(response_type, {}),
    }
    return int(body["status_code"]), sent, json.dumps(body).encode()


def method_not_allowed_body() -> dict[str, Any]:
    status, detail = METHOD_NOT_ALLOWED
    return {"status_code": status, "detail": detail}


def allow_header(methods: Iterable[str]) -> str:
    """The ``Allow`` header of a 405: the methods the path serves (empty when it serves none)."""
    return ", ".join(sorted({method.upper() for method in methods}))


def method_not_allowed(allowed: Iterable[str]) -> tuple[int, dict[str, str], bytes]:
    body = method_not_allowed_body()
    headers = {"Content-Type": "application/json", "Allow": allow_header(allowed)}
    return int(body["status_code"]), headers, json.dumps(body).encode()
