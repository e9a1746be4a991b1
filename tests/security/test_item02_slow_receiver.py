"""Item 2: a receiver that trickles its answer cannot keep an attempt alive past its deadline.

Each read of a trickling answer returns well within any per-read timeout, so only a
total deadline per attempt (connect + send + read, ``VALHALLA_WEBHOOK_TIMEOUT_SECONDS``)
ends it. The attempt is then a transient failure, retried later; and the lease that
keeps a second worker away always outlasts the longest attempt (checked when the
settings load).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chalicelib.channels.base import ChannelConfig, DeliveryFailed, OutgoingMessage
from chalicelib.channels.webhook import WebhookDriver, new_secret
from chalicelib.settings import load_settings
from tests.notify_support import create_channel, enqueue, pump_once
from tests.security.trickle import TricklingReceiver
from tests.support import Api

# The answer would take 10 s to complete; the deadline is a small fraction of it.
DEADLINE = 0.5
LINES, INTERVAL = 100, 0.1
MESSAGE = OutgoingMessage(
    id=1, message_id="msg_local_1", subject="s", body="b", payload=None, created_at="2026-01-01T00:00:00Z"
)


@pytest.fixture
def receiver() -> Iterator[TricklingReceiver]:
    with TricklingReceiver(LINES, INTERVAL) as running:
        yield running


@pytest.fixture
def short_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALHALLA_WEBHOOK_TIMEOUT_SECONDS", str(DEADLINE))
    monkeypatch.setenv("VALHALLA_ALLOW_PRIVATE_WEBHOOK_TARGETS", "true")


def test_item02_a_trickling_receiver_is_cut_off_at_the_attempt_deadline(receiver: TricklingReceiver) -> None:
    driver = WebhookDriver(timeout=DEADLINE, allow_private=True)
    target = ChannelConfig(1, "slow", "webhook", receiver.url, (new_secret(),))
    with pytest.raises(DeliveryFailed) as failure:
        driver.send(target, MESSAGE)
    assert not failure.value.permanent
    assert "deadline" in failure.value.error
    assert receiver.finished.wait(30)
    # The client hung up while the answer was still coming: nothing waited for all of it.
    assert receiver.hung_up and receiver.lines_sent < LINES


def test_item02_the_notification_is_retried_not_sent_twice(
    short_deadline: None, api: Api, receiver: TricklingReceiver
) -> None:
    channel = create_channel(api, name="slow-hook", channel_type="webhook", target=receiver.url)
    notification = enqueue(api, channel["id"])
    outcome = pump_once()
    assert outcome["records"] == 1 and len(outcome["batchItemFailures"]) == 1
    detail = api.get(f"/system/notify/{notification['id']}").json
    assert detail["status"] == "pending" and detail["attempts"] == 1
    assert "deadline" in detail["last_error"]
    assert receiver.finished.wait(30) and receiver.hung_up and receiver.requests == 1


@pytest.mark.parametrize(("lease", "deadline"), [("10", "10"), ("12", "10"), ("60", "120")])
def test_item02_settings_refuse_a_lease_no_longer_than_an_attempt(
    monkeypatch: pytest.MonkeyPatch, lease: str, deadline: str
) -> None:
    monkeypatch.setenv("VALHALLA_LEASE_SECONDS", lease)
    monkeypatch.setenv("VALHALLA_WEBHOOK_TIMEOUT_SECONDS", deadline)
    with pytest.raises(ValueError, match="VALHALLA_LEASE_SECONDS"):
        load_settings()


def test_item02_by_default_the_lease_and_the_queue_outlast_any_attempt(aws: None) -> None:
    from chalicelib import aws as clients
    from chalicelib.resources import queue_url

    settings = load_settings()
    assert settings.webhook_timeout_seconds == 10
    assert settings.lease_seconds > settings.attempt_ceiling_seconds > settings.webhook_timeout_seconds
    visibility = clients.client("sqs").get_queue_attributes(
        QueueUrl=queue_url("notifications"), AttributeNames=["VisibilityTimeout"]
    )["Attributes"]["VisibilityTimeout"]
    assert int(visibility) > settings.attempt_ceiling_seconds
