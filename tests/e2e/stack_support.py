"""Plumbing for end-to-end tests: the local stack in a child process, spoken to over HTTP."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from chalicelib.local.process import StackProcess

T = TypeVar("T")

# Small settings so that breakers, cool-downs and retries happen within seconds.
FAST_ENV = {
    "VALHALLA_ALLOW_PRIVATE_WEBHOOK_TARGETS": "true",
    "VALHALLA_RETRY_SCHEDULE": "1,1,1,1,1,1,1,1,1,1,1,1",
    "VALHALLA_WEBHOOK_TIMEOUT_SECONDS": "3",
    "VALHALLA_SWEEP_GRACE_SECONDS": "20",
}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class Stack:
    process: StackProcess

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> Reply:
        headers = {"content-type": "application/json", "authorization": f"Bearer {token or self.process.admin_token}"}
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.process.base_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, raw, sent = response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            status, raw, sent = error.code, error.read(), error.headers
        return Reply(status, {k.lower(): v for k, v in sent.items()}, json.loads(raw) if raw else None)

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        reply = self.call(method, path, body)
        assert reply.status == status, (reply.status, reply.body)
        return reply.body

    def webhook_channel(self, name: str, url: str, **extra: Any) -> int:
        body = {"name": name, "channel_type": "webhook", "target": url, **extra}
        return int(self.ok("POST", "/system/notify/channels", body, 201)["id"])

    def notify(self, channel_id: int, count: int = 1) -> list[int]:
        return [
            int(
                self.ok("POST", "/system/notify", {"channel_id": channel_id, "subject": f"n{i}", "body": "b"}, 201)[
                    "id"
                ]
            )
            for i in range(count)
        ]

    def health(self, channel_id: int) -> dict[str, Any]:
        return dict(self.ok("GET", f"/system/notify/channels/{channel_id}/health"))

    def statuses(self, ids: list[int]) -> list[str]:
        return [str(self.ok("GET", f"/system/notify/{i}")["status"]) for i in ids]


def wait_until(probe: Callable[[], T | None], timeout: float, what: str, every: float = 0.2) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)
