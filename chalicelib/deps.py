"""The services of one container, built lazily from settings and shared by every request.

Handlers and workers ask :func:`get_deps`; tests build their own or call
:func:`reset_deps` after changing settings. Each capability adds its service here as
a ``cached_property`` so that nothing is constructed before it is first needed.
"""

from __future__ import annotations

from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any

from chalicelib.clock import Clock, utcnow
from chalicelib.services import emitting
from chalicelib.settings import Settings, get_settings

# Services (and the PynamoDB models under them) are imported when first built, so
# importing the app for a cold start pays only for the routing table.
if TYPE_CHECKING:
    from chalicelib.services.audit import AuditLog
    from chalicelib.services.event_subscriptions import EventSubscriptions, SubscriptionCache
    from chalicelib.services.events import EventBus
    from chalicelib.services.exports import ExportJobs
    from chalicelib.services.guard import DeliveryGuard
    from chalicelib.services.health import ChannelHealth
    from chalicelib.services.idempotency import Idempotency
    from chalicelib.services.keys import ApiKeys
    from chalicelib.services.maintenance import MaintenanceGate
    from chalicelib.services.notifications import Notifications
    from chalicelib.services.ratelimit import ApiRateLimiter
    from chalicelib.services.replays import Replays
    from chalicelib.services.retention import RetentionService
    from chalicelib.services.stats import StatsRecorder
    from chalicelib.services.stats_read import StatsReader
    from chalicelib.store.counters import IdAllocator


class Deps:
    def __init__(self, settings: Settings, clock: Clock = utcnow) -> None:
        self.settings = settings
        self.clock = clock

    @cached_property
    def ids(self) -> IdAllocator:
        from chalicelib.store.counters import IdAllocator

        return IdAllocator(self.settings.id_block_size)

    @cached_property
    def maintenance(self) -> MaintenanceGate:
        from chalicelib.services.maintenance import MaintenanceGate
        from chalicelib.store.maintenance import DynamoMaintenanceStore

        return MaintenanceGate(
            DynamoMaintenanceStore(),
            self.clock,
            self.settings.maintenance_cache_seconds,
            stale_seconds=self.settings.maintenance_cache_seconds * self.settings.maintenance_stale_multiple,
        )

    @cached_property
    def audit(self) -> AuditLog:
        from chalicelib.services.audit import AuditLog

        return AuditLog(self.clock)

    @cached_property
    def keys(self) -> ApiKeys:
        from chalicelib.services.keys import ApiKeys

        return ApiKeys(self.ids, self.clock)

    @cached_property
    def idempotency(self) -> Idempotency:
        from chalicelib.services.idempotency import Idempotency

        return Idempotency(
            self.clock, self.settings.idempotency_ttl_seconds, self.settings.idempotency_in_progress_seconds
        )

    # --- capability services (notifications, exports, retention) below ---

    @cached_property
    def exports(self) -> ExportJobs:
        from chalicelib.services.exports import ExportJobs

        return ExportJobs(
            self.settings, self.clock, self.ids, self.idempotency, notifications=lambda: self.notifications
        )

    @cached_property
    def retention(self) -> RetentionService:
        from chalicelib import aws
        from chalicelib.purge.engine import DynamoPurgeEngine
        from chalicelib.purge.purgers import default_purgers
        from chalicelib.purge.queue import PurgeQueue
        from chalicelib.resources import queue_url
        from chalicelib.services.retention import RetentionService

        settings = self.settings
        return RetentionService(
            self.ids,
            self.clock,
            purgers=default_purgers(self.audit, lambda: aws.client("s3"), lambda: settings.exports_bucket),
            engine=lambda: DynamoPurgeEngine(aws.client("dynamodb")),
            queue=PurgeQueue(lambda: aws.client("sqs"), lambda: queue_url("purge", settings)),
            maintenance=self.maintenance,
            audit=self.audit,
            exports=lambda: self.exports,
            archive_poll_seconds=settings.purge_archive_poll_seconds,
        )

    @cached_property
    def notifications(self) -> Notifications:
        from chalicelib.domain.events import notification_failed

        def announce_notification_failed(view: dict[str, Any]) -> None:
            data, key = notification_failed(view)
            self.events.emit("notification.failed", data, key=key)

        from chalicelib.services.notifications import Notifications

        return Notifications(
            self.settings,
            self.clock,
            self.ids,
            on_gave_up=announce_notification_failed,
            idempotency=self.idempotency,
            guard=self.delivery_guard,
        )

    # --- channel health and rate limits (docs/channel-health.md) ---

    @cached_property
    def channel_health(self) -> ChannelHealth:
        from chalicelib.services.health import ChannelHealth

        def announce(event_type: str, data: dict[str, Any], key: str) -> None:
            emitting.emit(event_type, data, key=key)

        return ChannelHealth(self.settings, self.clock, announce)

    @cached_property
    def replays(self) -> Replays:
        from chalicelib.queues import SqsQueue
        from chalicelib.services.replays import Replays

        return Replays(self.clock, self.ids, lambda: self.notifications, SqsQueue.named("replays"))

    @cached_property
    def api_rate_limiter(self) -> ApiRateLimiter:
        from chalicelib.services.ratelimit import ApiRateLimiter

        return ApiRateLimiter(self.clock, self.settings.api_rate_limit_per_minute)

    @cached_property
    def delivery_guard(self) -> DeliveryGuard:
        from chalicelib.services.guard import DeliveryGuard
        from chalicelib.services.ratelimit import ChannelRateLimiter

        return DeliveryGuard(self.channel_health, self.clock, ChannelRateLimiter(self.clock))

    @cached_property
    def stats(self) -> StatsRecorder:
        from chalicelib.services.stats import StatsRecorder
        from chalicelib.store.stats import default_stats_table

        settings = self.settings
        return StatsRecorder(
            default_stats_table(), self.clock, settings.stats_shards, flush_seconds=settings.tally_flush_seconds
        )

    @cached_property
    def stats_reader(self) -> StatsReader:
        from chalicelib.services.stats_read import StatsReader
        from chalicelib.store.stats import default_stats_table

        settings = self.settings
        return StatsReader(default_stats_table(), self.clock, settings.stats_shards)

    # --- event subscriptions (chalicelib.services.events) ---

    @cached_property
    def subscription_cache(self) -> SubscriptionCache:
        from chalicelib.services.event_subscriptions import SubscriptionCache
        from chalicelib.store.event_subscriptions import SubscriptionRepo

        repo = SubscriptionRepo(self.settings.region, self.settings.aws_endpoint_url)
        return SubscriptionCache(repo, self.settings.config_cache_seconds)

    @cached_property
    def subscriptions(self) -> EventSubscriptions:
        from chalicelib.domain.errors import NotFound
        from chalicelib.services.event_subscriptions import EventSubscriptions

        def channel_exists(channel_id: int) -> bool:
            try:
                self.notifications.get_channel(channel_id)
            except NotFound:
                return False
            return True

        cache = self.subscription_cache
        return EventSubscriptions(cache.repo, cache, self.ids, self.clock, channel_exists)

    @cached_property
    def events(self) -> EventBus:
        from chalicelib.services.events import EventBus
        from chalicelib.store.events import EventLog

        return EventBus(
            EventLog(self.settings.write_shards),
            self.subscription_cache,
            self.clock,
            notifications=lambda: self.notifications,
            sweep_grace_seconds=self.settings.sweep_grace_seconds,
        )


@lru_cache(maxsize=1)
def get_deps() -> Deps:
    return Deps(get_settings())


def reset_deps() -> None:
    from chalicelib.store.cache import clear_all

    get_deps.cache_clear()
    clear_all()


emitting.provide(lambda: get_deps().events)
