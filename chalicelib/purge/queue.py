"""The purge queue: messages ``{"run_id": N}`` start or continue a run."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


class PurgeQueue:
    """Messages ``{"run_id": N}`` on the purge queue: start or continue a run."""

    def __init__(self, sqs: Callable[[], Any], queue_url: Callable[[], str]) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self._url: str | None = None

    def send(self, run_id: int, delay_seconds: int = 0) -> None:
        if self._url is None:
            self._url = self.queue_url()
        self.sqs().send_message(
            QueueUrl=self._url,
            MessageBody=json.dumps({"run_id": run_id}),
            DelaySeconds=max(0, min(900, int(delay_seconds))),
        )
