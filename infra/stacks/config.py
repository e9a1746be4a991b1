"""Everything that differs between stages, and the timeouts of the queue consumers, in one place."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# The queues are defined once, in the application, for the local stack and for AWS.
from chalicelib.queues import (  # noqa: F401
    DEFAULT_QUEUE,
    DLQ_RETENTION_DAYS,
    QUEUES,
    VISIBILITY_FACTOR,
    QueueSettings,
    queue_settings,
)

# Functions that consume no queue: the API and the authorizer; and the schedules,
# which get at most their period so two runs never overlap.
DEFAULT_FUNCTION_TIMEOUT_SECONDS = 60
SCHEDULE_FUNCTION_TIMEOUT_SECONDS = 300

# Reserved concurrency per function (logical id): a runaway queue or schedule cannot take
# the concurrency the API needs, and the API cannot take the workers'. Schedules run one
# at a time. SQS consumers cap their event source at the same number (at least 2, SQS's floor).
RESERVED_CONCURRENCY: dict[str, int] = {
    "APIHandler": 100,
    "ApiKeyAuthorizer": 50,
    "DeliverNotifications": 20,
    "RunExport": 5,
    "ProcessPurgeRuns": 2,
    "SweepNotifications": 1,
    "PurgeExpired": 1,
}
DEFAULT_RESERVED_CONCURRENCY = 2


def reserved_concurrency(logical_id: str) -> int:
    return RESERVED_CONCURRENCY.get(logical_id, DEFAULT_RESERVED_CONCURRENCY)


_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def schedule_timeout_seconds(expression: str) -> int:
    """The timeout of a scheduled function: SCHEDULE_FUNCTION_TIMEOUT_SECONDS, capped by a rate's period."""
    match = _RATE.match(expression.strip())
    if not match:  # cron(...): daily or rarer in this app
        return SCHEDULE_FUNCTION_TIMEOUT_SECONDS
    period = int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]
    return min(SCHEDULE_FUNCTION_TIMEOUT_SECONDS, period)


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
