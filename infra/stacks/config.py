"""Everything that differs between stages, and the timeouts of the queue consumers, in one place."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from chalicelib.settings import DEFAULT_RETRY_SCHEDULE

# AWS's rule for SQS event sources: a queue's visibility timeout is at least six
# times the timeout of the function that consumes it, so a message is not handed
# to a second consumer while the first may still be working on it.
VISIBILITY_FACTOR = 6


@dataclass(frozen=True)
class QueueSettings:
    """A queue and the Lambda function that consumes it."""

    consumer_timeout_seconds: int
    # Receives before a message moves to the dead-letter queue. Retries with
    # backoff are receives too, so a queue that retries must allow them all.
    max_receive_count: int = 5
    retention_days: int = 4

    @property
    def visibility_timeout_seconds(self) -> int:
        return VISIBILITY_FACTOR * self.consumer_timeout_seconds


# Logical queue name (chalicelib.settings.QUEUES) -> its settings. A queue added
# to settings.QUEUES without an entry here gets DEFAULT_QUEUE.
QUEUES: dict[str, QueueSettings] = {
    # One batch of deliveries (email, SMS, webhooks with a 10 s timeout each).
    # Every retry of the schedule is one more receive, plus a margin for crashes.
    "notifications": QueueSettings(consumer_timeout_seconds=60, max_receive_count=len(DEFAULT_RETRY_SCHEDULE) + 3),
    # One export writes a multipart object to S3 within its time budget.
    "exports": QueueSettings(consumer_timeout_seconds=300),
    # One purge run deletes expired records in pages within its time budget.
    "purge": QueueSettings(consumer_timeout_seconds=300),
}
DEFAULT_QUEUE = QueueSettings(consumer_timeout_seconds=60)

# Functions that consume no queue: the API and the authorizer; and the schedules,
# which get at most their period so two runs never overlap.
DEFAULT_FUNCTION_TIMEOUT_SECONDS = 60
SCHEDULE_FUNCTION_TIMEOUT_SECONDS = 300
DLQ_RETENTION_DAYS = 14

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def schedule_timeout_seconds(expression: str) -> int:
    """The timeout of a scheduled function: SCHEDULE_FUNCTION_TIMEOUT_SECONDS, capped by a rate's period."""
    match = _RATE.match(expression.strip())
    if not match:  # cron(...): daily or rarer in this app
        return SCHEDULE_FUNCTION_TIMEOUT_SECONDS
    period = int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]
    return min(SCHEDULE_FUNCTION_TIMEOUT_SECONDS, period)


def queue_settings(logical: str) -> QueueSettings:
    return QUEUES.get(logical, DEFAULT_QUEUE)


@dataclass(frozen=True)
class StageConfig:
    """The differences between ``dev`` and ``prod``; nothing stage-specific lives elsewhere."""

    name: str
    # Tables refuse deletion, and tables and the bucket survive a stack deletion.
    deletion_protection: bool
    retain_data: bool
    log_retention_days: int
    log_level: str
    # Alarms notify an SNS topic for operators (subscribe with -c alarm_email=...).
    alarm_topic: bool
    memory_mb: int = 512
    environment: dict[str, str] = field(default_factory=dict)


STAGES: dict[str, StageConfig] = {
    "dev": StageConfig(
        name="dev",
        deletion_protection=False,
        retain_data=False,
        log_retention_days=14,
        log_level="INFO",
        alarm_topic=False,
    ),
    "prod": StageConfig(
        name="prod",
        deletion_protection=True,
        retain_data=True,
        log_retention_days=90,
        log_level="WARNING",
        alarm_topic=True,
    ),
}


def stage_config(name: str) -> StageConfig:
    try:
        return STAGES[name]
    except KeyError:
        raise SystemExit(f"unknown stage {name!r}; choose one of {', '.join(STAGES)}") from None
