"""A local stack with the real app, shared by the security tests that attack it over HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from chalicelib.local import LocalStack
from tests.support import reset_all

ADMIN_TOKEN = "vk_security_test_admin_token"


_STACK_ENVIRONMENT: dict[str, str] = {}


@pytest.fixture(scope="module")
def local_stack() -> Iterator[LocalStack]:
    """The real app on 127.0.0.1 with its embedded AWS (no pumps or scheduler: nothing here needs them)."""
    stack = LocalStack(port=0, admin_token=ADMIN_TOKEN, log=lambda line: None, run_event_sources=False)
    try:
        with stack:
            # What the stack set (its endpoint, tables, token): each test's isolated
            # environment removes it, and the in-process server reads os.environ.
            _STACK_ENVIRONMENT.clear()
            _STACK_ENVIRONMENT.update(
                {name: value for name, value in os.environ.items() if name.startswith(("VALHALLA_", "AWS_"))}
            )
            yield stack
    finally:
        _STACK_ENVIRONMENT.clear()
        reset_all(endpoint_changed=True)


@pytest.fixture(autouse=True)
def _stack_environment(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that attacks the stack sees the stack's environment, as the stack's app does."""
    if "local_stack" not in request.fixturenames:
        return
    request.getfixturevalue("local_stack")
    for name, value in _STACK_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    reset_all(endpoint_changed=True)
