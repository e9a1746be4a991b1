"""boto3 clients, built lazily (never at import) and cached per endpoint.

Code that needs a client receives one; these getters are the default built when
none is given. Tests swap endpoints by changing settings and calling :func:`reset_clients`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from botocore.config import Config

from chalicelib.settings import get_settings


@cache
def _client(service: str, region: str, endpoint: str | None, deadline: float | None = None) -> Any:
    import boto3

    if deadline is None:
        config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=30)
    else:
        # One try whose connect and read fit in the deadline (a retry is a later attempt).
        config = Config(retries={"total_max_attempts": 1}, connect_timeout=deadline / 2, read_timeout=deadline / 2)
    session: Any = boto3.session.Session()
    return session.client(service, region_name=region, endpoint_url=endpoint, config=config)


# Services the system uses only to deliver notifications: their calls fit in one attempt's deadline.
DELIVERY_SERVICES = frozenset({"ses", "sns"})


def client(service: str) -> Any:
    settings = get_settings()
    deadline = settings.webhook_timeout_seconds if service in DELIVERY_SERVICES else None
    return _client(service, settings.region, settings.aws_endpoint_url, deadline)


def delivery_client(service: str) -> Any:
    """A client for one delivery attempt (SES, SNS): it gives up within the attempt's deadline."""
    return client(service)


def reset_clients() -> None:
    _client.cache_clear()
