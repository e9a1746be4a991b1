"""Item 14: a method the API does not serve answers 405 in the one error shape, locally as in AWS.

The local stack is attacked over a real socket (the test client never sees the
HTTP server's own method dispatch, which is where a 501 came from). In AWS every
path of the API carries an ``ANY`` method that answers the same 405 without
reaching a function (checked on the synthesized template in tests/infra).
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from chalicelib.local import LocalStack
from tests.security.conftest import ADMIN_TOKEN


def send(stack: LocalStack, method: str, path: str, body: bytes | None = None) -> tuple[int, dict[str, str], Any]:
    parts = urlsplit(stack.base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(raw) if raw else None
    finally:
        connection.close()


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "FOO"])
@pytest.mark.parametrize("path", ["/system/health", "/system/notify/channels", "/system/no/such/route"])
def test_item14_a_method_no_route_serves_answers_405_in_the_error_shape(
    local_stack: LocalStack, method: str, path: str
) -> None:
    status, headers, body = send(local_stack, method, path)
    assert status == 405
    assert body == {"status_code": 405, "detail": "Method not allowed."}
    assert headers["content-type"] == "application/json"
    assert "allow" in headers


def test_item14_the_allow_header_lists_what_the_path_serves(local_stack: LocalStack) -> None:
    status, headers, _ = send(local_stack, "TRACE", "/system/notify/channels")
    assert status == 405
    assert set(headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}


def test_item14_a_known_method_on_a_path_that_does_not_serve_it_answers_405(local_stack: LocalStack) -> None:
    status, headers, body = send(local_stack, "PUT", "/system/health", b"{}")
    assert status == 405
    assert body == {"status_code": 405, "detail": "Method not allowed."}
    assert headers["allow"] == "GET"


def test_item14_the_stack_still_serves_after_refusing(local_stack: LocalStack) -> None:
    assert send(local_stack, "TRACE", "/system/health")[0] == 405
    status, _, body = send(local_stack, "GET", "/system/health")
    assert status == 200 and body["mode"] == "normal"  # its tables answer: the stack is whole
    status, _, body = send(local_stack, "GET", "/system/notify/channels")
    assert status == 200 and body["items"] == []
