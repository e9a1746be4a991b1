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
def _client(service: str, region: str, endpoint: str | None) -> Any:
    import boto3

    config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=30)
    session: Any = boto3.session.Session()
    return session.client(service, region_name=region, endpoint_url=endpoint, config=config)


def client(service: str) -> Any:
    settings = get_settings()
    return _client(service, settings.region, settings.aws_endpoint_url)


def reset_clients() -> None:
    _client.cache_clear()
