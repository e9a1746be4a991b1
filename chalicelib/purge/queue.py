"""The purge queue: messages ``{"run_id": N}`` start or continue a run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.queues import SqsQueue


class PurgeQueue:
    """Messages ``{"run_id": N}`` on the purge queue: start or continue a run."""

    def __init__(self, sqs: Callable[[], Any], queue_url: Callable[[], str]) -> None:
        self.queue = SqsQueue(sqs, queue_url)

    def send(self, run_id: int, delay_seconds: int = 0) -> None:
        self.queue.send({"run_id": run_id}, delay_seconds)
