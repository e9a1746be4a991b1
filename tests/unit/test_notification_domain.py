"""The rules of notifications without I/O: the retry schedule, targets, the SSRF address check."""

from __future__ import annotations

import random

import pytest

from chalicelib.domain.notifications import (
    MAX_VISIBILITY_SECONDS,
    ChannelType,
    address_problem,
    redact_target,
    retry_delay,
    target_problem,
)
from chalicelib.settings import DEFAULT_RETRY_SCHEDULE, load_settings

SVIX_LIKE = (5, 300, 1800, 7200, 18000, 36000, 36000)


def test_the_default_schedule_is_svix_like_and_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert DEFAULT_RETRY_SCHEDULE == SVIX_LIKE
    monkeypatch.setenv("VALHALLA_RETRY_SCHEDULE", "1, 2,4")
    assert load_settings().retry_schedule == (1, 2, 4)
    monkeypatch.setenv("VALHALLA_RETRY_SCHEDULE", "1,-2")
    with pytest.raises(ValueError):
        load_settings()


def test_each_failed_attempt_waits_its_step_with_jitter_then_gives_up() -> None:
    rand = random.Random(7)
    for attempt, step in enumerate(SVIX_LIKE, start=1):
        for _ in range(20):
            delay = retry_delay(attempt, SVIX_LIKE, rand=rand)
            assert delay is not None and round(step * 0.8) <= delay <= round(step * 1.2)
    assert retry_delay(len(SVIX_LIKE) + 1, SVIX_LIKE, rand=rand) is None
    assert retry_delay(1, (), rand=rand) is None


def test_jitter_spreads_a_burst_of_failures() -> None:
    rand = random.Random(1)
    assert len({retry_delay(2, SVIX_LIKE, rand=rand) for _ in range(50)}) > 10


def test_retry_after_is_a_floor_and_sqs_visibility_a_ceiling() -> None:
    rand = random.Random(3)
    assert retry_delay(1, (5,), retry_after=120, rand=rand) == 120
    assert retry_delay(1, (5,), retry_after=0.2, rand=rand) in range(4, 7)
    assert retry_delay(1, (5,), retry_after=10**9, rand=rand) == MAX_VISIBILITY_SECONDS
    assert retry_delay(1, (10**6,), rand=rand) == MAX_VISIBILITY_SECONDS


@pytest.mark.parametrize(
    "address",
    ["10.0.0.5", "127.0.0.1", "169.254.169.254", "100.64.0.1", "224.0.0.1", "255.255.255.255", "::1", "fe80::1"],
)
def test_non_public_addresses_are_named(address: str) -> None:
    assert address_problem(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert address_problem(address) is None


@pytest.mark.parametrize(
    ("channel_type", "target", "valid"),
    [
        (ChannelType.email, "owner@example.com", True),
        (ChannelType.email, "first.last+tag@sub.example.co.uk", True),
        (ChannelType.email, "owner@@example.com", False),
        (ChannelType.email, "owner@example..com", False),
        (ChannelType.sms, "+14155550100", True),
        (ChannelType.sms, "+4915112345678", True),
        (ChannelType.sms, "+1415555010012345", False),
        (ChannelType.webhook, "https://hooks.example.com/in?x=1", True),
        (ChannelType.webhook, "https://[2606:4700::1111]:8443/in", True),
        (ChannelType.webhook, "https://hooks.example.com:0/in", False),
        (ChannelType.webhook, "https://hooks.example.com/in#frag", False),
        (ChannelType.webhook, "https://exa mple.com/", False),
        (ChannelType.webhook, "https://-bad-.example.com/", False),
    ],
)
def test_targets_are_validated_per_type(channel_type: ChannelType, target: str, valid: bool) -> None:
    assert (target_problem(channel_type, target) is None) is valid


def test_snapshots_hide_tokens_in_webhook_urls_only() -> None:
    assert redact_target(ChannelType.webhook, "https://hooks.example.com/T0/B0/secret") == (
        "https://hooks.example.com/[redacted]"
    )
    assert redact_target(ChannelType.webhook, "https://hooks.example.com") == "https://hooks.example.com"
    assert redact_target(ChannelType.email, "owner@example.com") == "owner@example.com"
