"""Every setting of the system, read once from ``VALHALLA_*`` environment variables.

Nothing reads ``os.environ`` elsewhere: call :func:`get_settings`. Tests change the
environment and call :func:`reset_settings`.
"""

# No ``from __future__ import annotations`` here: a NamedTuple turns each string
# annotation into a compiled ForwardRef, about a millisecond for this class at every cold start.
import os
from functools import lru_cache
from typing import NamedTuple

# Logical table name -> environment variable that names the physical table.
TABLES = {
    "api_keys": "VALHALLA_API_KEYS_TABLE",
    "audit_log": "VALHALLA_AUDIT_TABLE",
    "counters": "VALHALLA_COUNTERS_TABLE",
    "idempotency": "VALHALLA_IDEMPOTENCY_TABLE",
    "maintenance_state": "VALHALLA_MAINTENANCE_TABLE",
    "notification_channels": "VALHALLA_CHANNELS_TABLE",
    "notification_outbox": "VALHALLA_OUTBOX_TABLE",
    "notification_content": "VALHALLA_CONTENT_TABLE",
    "export_jobs": "VALHALLA_EXPORTS_TABLE",
    "data_retention_policies": "VALHALLA_RETENTION_TABLE",
    "purge_runs": "VALHALLA_PURGE_RUNS_TABLE",
    "stats": "VALHALLA_STATS_TABLE",
    "events": "VALHALLA_EVENTS_TABLE",
    "event_subscriptions": "VALHALLA_EVENT_SUBSCRIPTIONS_TABLE",
    "channel_health": "VALHALLA_CHANNEL_HEALTH_TABLE",
    "rate_limits": "VALHALLA_RATE_LIMITS_TABLE",
    "notification_replays": "VALHALLA_REPLAYS_TABLE",
}

# Logical queue name -> environment variable that names the physical queue.
QUEUES = {
    "notifications": "VALHALLA_NOTIFICATIONS_QUEUE",
    "exports": "VALHALLA_EXPORTS_QUEUE",
    "purge": "VALHALLA_PURGE_QUEUE",
    "replays": "VALHALLA_REPLAYS_QUEUE",
}

DEFAULT_RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)
# Around the send of one delivery attempt: the claim, the channel read and the outcome write.
ATTEMPT_MARGIN_SECONDS = 5


class SettingsError(ValueError):
    """One or more ``VALHALLA_*`` variables hold a value of the wrong form; says which and what form."""


class _Env:
    """Reads environment variables, collecting every malformed one instead of stopping at the first."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def _raw(self, name: str) -> str | None:
        raw = os.environ.get(name)
        return None if raw is None or raw.strip() == "" else raw

    def _bad(self, name: str, raw: str, form: str) -> None:
        self.errors.append(f"{name}={raw!r}: expected {form}")

    def text(self, name: str, default: str) -> str:
        return os.environ.get(name, default)

    def flag(self, name: str, default: bool) -> bool:
        raw = self._raw(name)
        if raw is None:
            return default
        value = raw.strip().lower()
        if value in {"1", "true", "yes", "on"}:
            return True
        if value in {"0", "false", "no", "off"}:
            return False
        self._bad(name, raw, "a boolean (true/false, 1/0, yes/no, on/off)")
        return default

    def whole(self, name: str, default: int, minimum: int | None = None) -> int:
        raw = self._raw(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            value = None
        if value is None or (minimum is not None and value < minimum):
            self._bad(name, raw, "a whole number" + (f" >= {minimum}" if minimum is not None else ""))
            return default
        return value

    def seconds(self, name: str, default: float) -> float:
        raw = self._raw(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = None
        if value is None or value != value or value < 0:
            self._bad(name, raw, "a non-negative number of seconds (e.g. 5 or 2.5)")
            return default
        return value

    def schedule(self, name: str) -> tuple[int, ...]:
        raw = self._raw(name)
        if raw is None:
            return DEFAULT_RETRY_SCHEDULE
        try:
            steps = tuple(int(part) for part in raw.split(",") if part.strip())
        except ValueError:
            steps = ()
        if not steps or any(step < 0 for step in steps):
            self._bad(name, raw, "comma-separated non-negative seconds (e.g. 5,300,1800)")
            return DEFAULT_RETRY_SCHEDULE
        return steps

    def shards(self, name: str, default: int) -> int:
        """Write shards of a hot key: a power of two up to 32, so ids' round-robin low bits spread evenly."""
        value = self.whole(name, default)
        if value not in (1, 2, 4, 8, 16, 32):
            self._bad(name, str(value), "one of 1, 2, 4, 8, 16, 32")
            return default
        return value

    def check(self) -> None:
        if self.errors:
            raise SettingsError("invalid settings: " + "; ".join(self.errors))


# One-variable readers, each raising SettingsError at once for a malformed value.
def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _int(name: str, default: int) -> int:
    env = _Env()
    value = env.whole(name, default)
    env.check()
    return value


def _float(name: str, default: float) -> float:
    env = _Env()
    value = env.seconds(name, default)
    env.check()
    return value


def _bool(name: str, default: bool) -> bool:
    env = _Env()
    value = env.flag(name, default)
    env.check()
    return value


# A NamedTuple, not a frozen dataclass: as immutable, and every Lambda builds this class at
# import, where a dataclass of this many fields compiles its generated methods (~4 ms).
class Settings(NamedTuple):
    stage: str
    region: str
    aws_endpoint_url: str | None
    table_names: dict[str, str]
    queue_names: dict[str, str]
    exports_bucket: str
    maintenance_cache_seconds: float
    maintenance_stale_multiple: float
    shield_retry_after_seconds: int
    id_block_size: int
    max_body_bytes: int
    max_json_depth: int
    retry_schedule: tuple[int, ...]
    allow_private_webhook_targets: bool
    webhook_timeout_seconds: float  # the total deadline of one delivery attempt (connect + send + read)
    email_sender: str
    lease_seconds: int
    sweep_grace_seconds: int
    export_part_bytes: int
    export_url_seconds: int
    export_reserve_seconds: float
    export_checkpoint_pages: int
    idempotency_ttl_seconds: int
    idempotency_in_progress_seconds: int
    log_level: str
    local_admin_token: str | None
    local_pump_concurrency: int
    purge_schedule: str
    purge_reserve_seconds: float
    purge_archive_poll_seconds: int
    cursor_secret: str | None = None
    write_shards: int = 32
    config_cache_seconds: float = 5.0
    stats_shards: int = 4
    stats_end_shards: int = 64
    # How long a container may hold delivery tallies (analytics, channel health's successes).
    tally_flush_seconds: float = 10.0
    # API Gateway stage throttling (requests/s and burst), the outer guard in front of the API.
    api_throttle_rate: float = 50.0
    api_throttle_burst: int = 100
    # The KMS key (id, ARN or alias) that seals webhook signing secrets at rest.
    signing_key_id: str = "alias/valhalla-local-signing"
    # Channel health (circuit breaker, auto-disable) and rate limits: docs/channel-health.md.
    breaker_failure_rate: float = 0.7
    breaker_min_attempts: int = 10
    breaker_window_seconds: int = 300
    breaker_cooldown_seconds: int = 30
    breaker_max_cooldown_seconds: int = 600
    auto_disable_after_seconds: int = 432000
    auto_disable_after_trips: int = 10
    api_rate_limit_per_minute: int = 600

    def __repr__(self) -> str:  # never the cursor key or the admin token
        return f"Settings(stage={self.stage!r}, region={self.region!r})"

    @property
    def attempt_ceiling_seconds(self) -> float:
        """The longest one delivery attempt can take: its deadline (connect + send + read) and the margin."""
        return self.webhook_timeout_seconds + ATTEMPT_MARGIN_SECONDS

    def table(self, logical: str) -> str:
        return self.table_names[logical]

    def queue(self, logical: str) -> str:
        return self.queue_names[logical]


def load_settings() -> Settings:
    """Read every setting; a malformed ``VALHALLA_*`` value raises :class:`SettingsError` naming it."""
    env = _Env()
    stage = env.text("VALHALLA_STAGE", "local")
    prefix = f"valhalla-{stage}"
    settings = Settings(
        stage=stage,
        region=os.environ.get("AWS_REGION") or env.text("AWS_DEFAULT_REGION", "us-east-1"),
        aws_endpoint_url=os.environ.get("VALHALLA_AWS_ENDPOINT_URL") or None,
        table_names={
            logical: env.text(var, f"{prefix}-{logical.replace('_', '-')}") for logical, var in TABLES.items()
        },
        queue_names={logical: env.text(var, f"{prefix}-{logical}") for logical, var in QUEUES.items()},
        exports_bucket=env.text("VALHALLA_EXPORTS_BUCKET", f"{prefix}-exports"),
        maintenance_cache_seconds=env.seconds("VALHALLA_MAINTENANCE_CACHE_SECONDS", 5.0),
        # While the state cannot be read, the last one read serves for this many cache times at most.
        maintenance_stale_multiple=max(1.0, env.seconds("VALHALLA_MAINTENANCE_STALE_MULTIPLE", 12.0)),
        shield_retry_after_seconds=env.whole("VALHALLA_SHIELD_RETRY_AFTER_SECONDS", 300, minimum=0),
        id_block_size=max(1, env.whole("VALHALLA_ID_BLOCK_SIZE", 10)),
        max_body_bytes=env.whole("VALHALLA_MAX_BODY_BYTES", 256 * 1024, minimum=1),
        max_json_depth=env.whole("VALHALLA_MAX_JSON_DEPTH", 32, minimum=1),
        retry_schedule=env.schedule("VALHALLA_RETRY_SCHEDULE"),
        allow_private_webhook_targets=env.flag("VALHALLA_ALLOW_PRIVATE_WEBHOOK_TARGETS", False),
        webhook_timeout_seconds=env.seconds("VALHALLA_WEBHOOK_TIMEOUT_SECONDS", 10.0),
        email_sender=env.text("VALHALLA_EMAIL_SENDER", "notifications@valhalla.example.com"),
        lease_seconds=env.whole("VALHALLA_LEASE_SECONDS", 60, minimum=0),
        sweep_grace_seconds=env.whole("VALHALLA_SWEEP_GRACE_SECONDS", 120, minimum=0),
        export_part_bytes=max(5 * 1024 * 1024, env.whole("VALHALLA_EXPORT_PART_BYTES", 8 * 1024 * 1024)),
        export_url_seconds=env.whole("VALHALLA_EXPORT_URL_SECONDS", 900, minimum=1),
        export_reserve_seconds=env.seconds("VALHALLA_EXPORT_RESERVE_SECONDS", 60.0),
        export_checkpoint_pages=max(1, env.whole("VALHALLA_EXPORT_CHECKPOINT_PAGES", 20)),
        idempotency_ttl_seconds=env.whole("VALHALLA_IDEMPOTENCY_TTL_SECONDS", 24 * 3600, minimum=1),
        # Longer than any API invocation may run: past it, a request that was cut off may be retried.
        idempotency_in_progress_seconds=env.whole("VALHALLA_IDEMPOTENCY_IN_PROGRESS_SECONDS", 60, minimum=1),
        log_level=env.text("VALHALLA_LOG_LEVEL", "INFO"),
        local_admin_token=os.environ.get("VALHALLA_ADMIN_TOKEN") or None,
        local_pump_concurrency=max(1, env.whole("VALHALLA_LOCAL_PUMP_CONCURRENCY", 4)),
        purge_schedule=env.text("VALHALLA_PURGE_SCHEDULE", "cron(0 3 * * ? *)"),
        purge_reserve_seconds=env.seconds("VALHALLA_PURGE_RESERVE_SECONDS", 20.0),
        purge_archive_poll_seconds=min(900, max(0, env.whole("VALHALLA_PURGE_ARCHIVE_POLL_SECONDS", 60))),
        # Signs pagination cursors; unset, each process makes its own (tests, the local stack).
        cursor_secret=os.environ.get("VALHALLA_CURSOR_SECRET") or None,
        write_shards=env.shards("VALHALLA_WRITE_SHARDS", 32),
        config_cache_seconds=env.seconds("VALHALLA_CONFIG_CACHE_SECONDS", 5.0),
        # Writers of an aggregate row pick one of N copies; readers query all N (see chalicelib.store.stats).
        stats_shards=min(32, max(1, env.whole("VALHALLA_STATS_SHARDS", 4))),
        # The analytics' by_end key: every new aggregate row is one write on one of these.
        stats_end_shards=min(256, max(1, env.whole("VALHALLA_STATS_END_SHARDS", 64))),
        # A delivery worker adds up its batches' outcomes and writes them at most this often
        # (and at once when a batch was not full: the queue is draining). 0: after every batch.
        tally_flush_seconds=min(60.0, env.seconds("VALHALLA_TALLY_FLUSH_SECONDS", 10.0)),
        api_throttle_rate=env.seconds("VALHALLA_API_THROTTLE_RATE", 50.0),
        api_throttle_burst=env.whole("VALHALLA_API_THROTTLE_BURST", 100),
        signing_key_id=env.text("VALHALLA_SIGNING_KEY_ID", f"alias/{prefix}-signing"),
        breaker_failure_rate=min(1.0, env.seconds("VALHALLA_BREAKER_FAILURE_RATE", 0.7)),
        breaker_min_attempts=env.whole("VALHALLA_BREAKER_MIN_ATTEMPTS", 10, minimum=1),
        breaker_window_seconds=env.whole("VALHALLA_BREAKER_WINDOW_SECONDS", 300, minimum=1),
        breaker_cooldown_seconds=env.whole("VALHALLA_BREAKER_COOLDOWN_SECONDS", 30, minimum=1),
        breaker_max_cooldown_seconds=env.whole("VALHALLA_BREAKER_MAX_COOLDOWN_SECONDS", 600, minimum=1),
        auto_disable_after_seconds=env.whole("VALHALLA_AUTO_DISABLE_AFTER_SECONDS", 432000, minimum=1),
        auto_disable_after_trips=env.whole("VALHALLA_AUTO_DISABLE_AFTER_TRIPS", 10, minimum=1),
        api_rate_limit_per_minute=env.whole("VALHALLA_API_RATE_LIMIT_PER_MINUTE", 600, minimum=1),
    )
    env.check()
    _check_consistency(settings)
    return settings


def _check_consistency(settings: Settings) -> None:
    problems = []
    # A lease that can end during an attempt lets a second worker send the same notification.
    if settings.webhook_timeout_seconds <= 0:
        problems.append("VALHALLA_WEBHOOK_TIMEOUT_SECONDS must be positive")
    if settings.lease_seconds <= settings.attempt_ceiling_seconds:
        problems.append(
            f"VALHALLA_LEASE_SECONDS ({settings.lease_seconds}) must exceed the longest delivery attempt: "
            f"VALHALLA_WEBHOOK_TIMEOUT_SECONDS ({settings.webhook_timeout_seconds:g}) + {ATTEMPT_MARGIN_SECONDS} s"
        )
    if settings.api_throttle_rate <= 0:
        problems.append("VALHALLA_API_THROTTLE_RATE must be positive")
    if settings.api_throttle_burst <= 0:
        problems.append("VALHALLA_API_THROTTLE_BURST must be positive")
    if problems:
        raise SettingsError("invalid settings: " + "; ".join(problems))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def reset_settings() -> None:
    get_settings.cache_clear()
