"""An emulated AWS account in this process (moto), the app's tables, queues and bucket."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "VALHALLA_STAGE": "local",
    "VALHALLA_LOG_LEVEL": "WARNING",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "VALHALLA_API_RATE_LIMIT_PER_MINUTE": "1000000",  # the bench's one key makes thousands of requests a minute
}


class NotReady(Exception):
    """A capability an operation needs is not in this tree (yet)."""


def reset_all() -> None:
    from chalicelib.aws import reset_clients
    from chalicelib.deps import reset_deps
    from chalicelib.settings import reset_settings
    from chalicelib.store.models import reset_connections

    reset_settings()
    reset_deps()
    reset_clients()
    reset_connections()


@contextlib.contextmanager
def emulated_aws(**env: str) -> Iterator[None]:
    """moto in process, with everything :func:`chalicelib.resources.create_all` makes."""
    from moto import mock_aws

    saved = {name: os.environ.get(name) for name in {*FAKE_AWS_ENV, *env, "VALHALLA_AWS_ENDPOINT_URL"}}
    os.environ.update(FAKE_AWS_ENV)
    os.environ.update(env)
    os.environ.pop("VALHALLA_AWS_ENDPOINT_URL", None)
    try:
        with mock_aws():
            reset_all()
            from chalicelib.resources import create_all

            create_all()
            yield
            reset_all()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def admin_token() -> str:
    from chalicelib.deps import get_deps
    from chalicelib.domain.common import Role
    from chalicelib.domain.keys import CreateKey

    # Key names are unique, and an emulated account may ask for several.
    name = f"bench-admin-{secrets.token_hex(4)}"
    return get_deps().keys.create(CreateKey(name=name, role=Role.admin), created_by="bench").token
