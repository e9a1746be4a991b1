from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib.clock import FixedClock
from chalicelib.deps import get_deps
from chalicelib.domain.common import Role
from chalicelib.resources import create_all
from tests.retention_support import NOW
from tests.support import FAKE_AWS_ENV, ROOT, Api, make_token, reset_all


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees a real AWS account, or another test's settings."""
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    for name in ("VALHALLA_AWS_ENDPOINT_URL", "VALHALLA_ADMIN_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VALHALLA_STAGE", "local")
    reset_all()
    yield
    reset_all()


@pytest.fixture(scope="session", autouse=True)
def _atomic_emulated_requests() -> Iterator[None]:
    """moto handles a request in the caller's thread, without a lock: two conditional puts
    in two threads can both pass their check. DynamoDB applies each request atomically;
    handling one emulated request at a time gives the tests that race writers the same."""
    from moto.core.botocore_stubber import BotocoreStubber

    original = BotocoreStubber.process_request
    lock = threading.RLock()

    def one_at_a_time(self: BotocoreStubber, request: Any) -> Any:
        with lock:
            return original(self, request)

    BotocoreStubber.process_request = one_at_a_time  # type: ignore[method-assign]
    yield
    BotocoreStubber.process_request = original  # type: ignore[method-assign]


@pytest.fixture
def aws() -> Iterator[None]:
    """An emulated AWS account (moto, in process) with every table, queue and bucket."""
    with mock_aws():
        reset_all()
        create_all()
        yield
        reset_all()


@pytest.fixture
def chalice_client(aws: None) -> Iterator[Client]:
    from app import app

    with Client(app, stage_name="local", project_dir=str(ROOT)) as client:
        yield client


@pytest.fixture
def tokens(aws: None) -> dict[Role, str]:
    return {role: make_token(role) for role in Role}


@pytest.fixture
def api(chalice_client: Client, tokens: dict[Role, str]) -> Api:
    """The API as an admin; ``api.as_(tokens[Role.viewer])`` for another role."""
    return Api(chalice_client, tokens[Role.admin])


@pytest.fixture
def clock(aws: None) -> Iterator[FixedClock]:
    """The services' clock, fixed at NOW (set before any capability service is built)."""
    fixed = FixedClock(NOW)
    deps = get_deps()
    deps.clock = fixed
    for name in ("audit", "retention", "maintenance", "exports", "notifications", "channel_health", "delivery_guard"):
        deps.__dict__.pop(name, None)
    yield fixed


@pytest.fixture
def admin(api: Api, clock: FixedClock) -> Api:
    """The API as an admin, with the services' clock fixed at NOW."""
    return api
