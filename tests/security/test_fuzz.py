"""Fuzzing the served OpenAPI document with schemathesis: no 5xx, every response as documented.

The app is called in process (a WSGI adapter over Chalice's local gateway, the same
one ``chalice.test.Client`` uses, authorizer included) with a valid admin token.
``FUZZ_MAX_EXAMPLES`` sets the examples per operation: a few in ``make test``,
many in ``make fuzz``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

import pytest
import schemathesis
from chalice.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app import app
from chalicelib.domain.common import Role
from chalicelib.local.gateway import gateway_error
from tests.support import ROOT

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "8"))

# What the API promises: no server error, and every answer as documented (status, media
# type, headers, body schema), and auth enforced. Left out:
# schemathesis' positive/negative data checks, which judge the schema's expressiveness
# (a well-formed but unknown cursor, a control character, a cross-field rule are
# rejected with 422 although the JSON Schema alone would allow them).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    ignored_auth,
]
# Also left out: ``unsupported_method``. Which answer an undeclared method gets is the
# gateway's (API Gateway's gateway responses in AWS; Chalice's local gateway answers
# OPTIONS itself, as a CORS preflight), not the app's.


class ChaliceWsgi:
    """A WSGI application in front of the Chalice app's local gateway."""

    def __init__(self, client: Client) -> None:
        self.http = client.http

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
        if "?" not in path and environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {
            name[5:].replace("_", "-").lower(): str(value)
            for name, value in environ.items()
            if name.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        response = self.http.request(environ["REQUEST_METHOD"], path, headers=headers, body=body)
        status, sent, content = response.status_code, dict(response.headers), response.body or b""
        if "x-amzn-ErrorType" in sent:
            # An error of the gateway itself (no token...): answered as API Gateway's configured
            # gateway responses answer it in AWS, and as the local stack does.
            status, sent, content = gateway_error(status, sent)
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Unknown"
        start_response(f"{status} {phrase}", [(name, str(value)) for name, value in sent.items()])
        return [content]


class CurrentApp(ChaliceWsgi):
    """The adapter the schema is bound to; each test points it at its own client (its own AWS)."""

    def __init__(self) -> None:
        self.http: Any = None

    def use(self, client: Client) -> None:
        self.http = client.http


# OPTIONS is left out of the undeclared methods tried: Chalice's local gateway answers it
# itself as a CORS preflight (the app never sees it).
CONFIG = SchemathesisConfig.from_dict(
    {"phases": {"coverage": {"unexpected-methods": ["get", "put", "post", "delete", "patch", "trace"]}}}
)
WSGI = CurrentApp()
with Client(app, stage_name="local", project_dir=str(ROOT)) as _loader:
    # The document is public and touches no AWS: load it as a client would, from the served route.
    WSGI.use(_loader)
    schema = schemathesis.openapi.from_wsgi("/system/openapi.json", WSGI, config=CONFIG)


@pytest.fixture
def admin(chalice_client: Client, tokens: dict[Role, str]) -> dict[str, str]:
    WSGI.use(chalice_client)
    return {"Authorization": f"Bearer {tokens[Role.admin]}"}


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_fuzz_no_server_errors_and_responses_as_documented(case: Any, admin: dict[str, str]) -> None:
    case.call_and_validate(headers=admin, checks=CHECKS)
