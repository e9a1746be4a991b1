"""Test plumbing: the in-process emulated AWS, the app's test client, tokens."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalice.test import Client

from chalicelib.aws import reset_clients
from chalicelib.deps import reset_deps
from chalicelib.domain.common import Role
from chalicelib.domain.keys import CreateKey
from chalicelib.settings import reset_settings
from chalicelib.store.models import reset_connections

ROOT = Path(__file__).resolve().parent.parent

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    # Lists merge every write shard of a key; a few shards keep moto fast and still merge.
    "VALHALLA_WRITE_SHARDS": "4",
    # One admin key drives whole test modules; the limit itself is tested with keys of their own.
    "VALHALLA_API_RATE_LIMIT_PER_MINUTE": "100000",
}


def reset_all(endpoint_changed: bool = False) -> None:
    """Forget cached settings and services (their caches belong to one test).

    boto3 clients and PynamoDB connections are costly to build and are keyed by
    endpoint; they are rebuilt only when the endpoint changes (a moto server).
    """
    reset_settings()
    reset_deps()
    if endpoint_changed:
        reset_clients()
        reset_connections()


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw) if self.raw else None


class Api:
    """HTTP calls through Chalice's local gateway, with a bearer token by default."""

    def __init__(self, client: Client, token: str | None = None) -> None:
        self.client = client
        self.token = token

    def as_(self, token: str | None) -> Api:
        return Api(self.client, token)

    def request(
        self,
        method: str,
        path: str,
        json_body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        token: str | None = "default",
    ) -> Reply:
        sent = {"content-type": "application/json"}
        chosen = self.token if token == "default" else token
        if chosen:
            sent["authorization"] = f"Bearer {chosen}"
        sent.update({k.lower(): v for k, v in (headers or {}).items()})
        body = raw if raw is not None else (b"" if json_body is None else json.dumps(json_body).encode())
        response = self.client.http.request(method, path, headers=sent, body=body)
        return Reply(response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.body)

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, json_body: Any = None, **kw: Any) -> Reply:
        return self.request("POST", path, json_body, **kw)

    def patch(self, path: str, json_body: Any = None, **kw: Any) -> Reply:
        return self.request("PATCH", path, json_body, **kw)

    def delete(self, path: str, **kw: Any) -> Reply:
        return self.request("DELETE", path, **kw)


def make_token(role: Role, name: str | None = None) -> str:
    from chalicelib.deps import get_deps

    return get_deps().keys.create(CreateKey(name=name or f"test-{role.value}", role=role), created_by="tests").token
