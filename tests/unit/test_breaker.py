"""The circuit breaker's state machine, without I/O (chalicelib.domain.health)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from chalicelib.domain.health import (
    BreakerPolicy,
    Health,
    HealthState,
    Window,
    admission,
    enabled,
    pause,
    probe_failed,
    record_failures,
    record_success,
    should_trip,
    start_probe,
    trip,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
POLICY = BreakerPolicy(
    failure_rate=0.7,
    min_attempts=10,
    window_seconds=300,
    cooldown_seconds=30,
    max_cooldown_seconds=100,
    disable_after_seconds=3600,
    disable_after_trips=4,
    max_pause_seconds=60,
)


def test_the_breaker_trips_only_at_the_threshold_with_the_minimum_attempts() -> None:
    healthy = Health()
    assert not should_trip(healthy, Window(attempts=9, failures=9), POLICY)
    assert not should_trip(healthy, Window(attempts=10, failures=6), POLICY)
    assert should_trip(healthy, Window(attempts=10, failures=7), POLICY)
    assert not should_trip(replace(healthy, state=HealthState.open), Window(10, 10), POLICY)


def test_an_open_breaker_defers_until_the_cool_down_then_admits_one_probe() -> None:
    opened = trip(Health(), NOW, POLICY)
    assert opened.state is HealthState.open and opened.trips == 1
    assert opened.next_probe_at == NOW + timedelta(seconds=30)
    deferred = admission(opened, NOW + timedelta(seconds=29))
    assert deferred.kind == "defer" and deferred.until == NOW + timedelta(seconds=30)
    assert admission(opened, NOW + timedelta(seconds=30)).kind == "probe"
    probing = start_probe(opened, NOW + timedelta(seconds=30), lease_seconds=15)
    assert probing.state is HealthState.half_open
    assert admission(probing, NOW + timedelta(seconds=31)).kind == "defer"  # one probe at a time
    assert admission(probing, NOW + timedelta(seconds=46)).kind == "probe"  # the probe's worker died


def test_a_failed_probe_reopens_with_a_doubled_cool_down_capped() -> None:
    health = trip(Health(), NOW, POLICY)
    cooldowns = []
    moment = NOW
    for _ in range(3):
        moment = health.next_probe_at or moment
        health = probe_failed(start_probe(health, moment, 15), moment, POLICY)
        cooldowns.append(health.cooldown_seconds)
    assert cooldowns == [60, 100, 100]
    assert health.state is HealthState.disabled  # the fourth trip reached disable_after_trips
    assert "tripped 4 times" in (health.disabled_reason or "")


def test_a_successful_probe_closes_the_breaker_with_a_fresh_window() -> None:
    opened = trip(record_failures(Health(), 10, NOW, POLICY), NOW, POLICY)
    closed = record_success(start_probe(opened, NOW, 15), 0, NOW + timedelta(seconds=31))
    assert closed.state is HealthState.healthy
    assert closed.generation == opened.generation + 1
    assert (closed.consecutive_failures, closed.trips, closed.failing_since, closed.troubled) == (0, 0, None, False)
    assert admission(closed, NOW).kind == "send"


def test_failing_without_a_success_for_the_configured_time_disables() -> None:
    failing = record_failures(Health(), 3, NOW, POLICY)
    assert failing.failing_since == NOW and failing.consecutive_failures == 3
    still = record_failures(failing, 1, NOW + timedelta(seconds=3599), POLICY)
    assert still.state is HealthState.healthy and still.failing_since == NOW
    disabled = record_failures(still, 1, NOW + timedelta(seconds=3600), POLICY)
    assert disabled.state is HealthState.disabled
    assert disabled.disabled_at == NOW + timedelta(seconds=3600)
    assert disabled.disabled_reason == "failing without a success since 2026-12-01T12:00:00Z"
    assert admission(disabled, NOW).kind == "disabled"


def test_enable_resets_the_health_but_remembers_to_report_recovery() -> None:
    disabled = record_failures(
        Health(generation=3), 1, NOW + timedelta(hours=2), replace(POLICY, disable_after_seconds=1)
    )
    disabled = record_failures(disabled, 1, NOW + timedelta(hours=3), replace(POLICY, disable_after_seconds=1))
    back = enabled(disabled)
    assert back.state is HealthState.healthy and back.generation == 4 and back.troubled
    assert back.disabled_reason is None and back.consecutive_failures == 0
    assert not record_success(back, 0, NOW).troubled


def test_retry_after_pauses_the_channel_capped_by_the_largest_retry_step() -> None:
    paused = pause(Health(), NOW, 3600, POLICY)
    assert paused.paused_until == NOW + timedelta(seconds=60)
    assert admission(paused, NOW + timedelta(seconds=59)).kind == "defer"
    assert admission(paused, NOW + timedelta(seconds=60)).kind == "send"
    assert pause(paused, NOW, 5, POLICY) == paused  # a shorter pause does not cut a longer one
