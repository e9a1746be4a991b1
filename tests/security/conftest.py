"""A local stack with the real app, shared by the security tests that attack it over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chalicelib.local import LocalStack
from tests.support import reset_all

ADMIN_TOKEN = "vk_security_test_admin_token"


@pytest.fixture(scope="module")
def local_stack() -> Iterator[LocalStack]:
    """The real app on 127.0.0.1 with its embedded AWS (no pumps or scheduler: nothing here needs them)."""
    stack = LocalStack(port=0, admin_token=ADMIN_TOKEN, log=lambda line: None, run_event_sources=False)
    try:
        with stack:
            yield stack
    finally:
        reset_all(endpoint_changed=True)
