"""Item 6: webhook signing secrets are stored encrypted (KMS envelope), and a rotated-out one is deleted.

The secret a client is shown once must not be readable from the table: what is stored
opens only through KMS, only for its own channel. After a rotation the previous secret
signs during its overlap and is then deleted from the item, not just left unused.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from chalicelib import aws
from chalicelib.channels.secret_box import SecretBox, SecretBoxError
from chalicelib.clock import FixedClock, utcnow
from chalicelib.deps import get_deps
from chalicelib.services.notifications import Notifications
from chalicelib.settings import get_settings
from tests.notify_support import create_channel, enqueue, pump_until_idle
from tests.support import Api, reset_all
from tests.webhook_receiver import WebhookReceiver


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch, aws: None) -> None:
    monkeypatch.setenv("VALHALLA_ALLOW_PRIVATE_WEBHOOK_TARGETS", "true")
    reset_all()


def stored(channel_id: int) -> dict[str, Any]:
    """The channel's item as DynamoDB holds it."""
    table = get_settings().table("notification_channels")
    item = aws.client("dynamodb").get_item(TableName=table, Key={"id": {"N": str(channel_id)}}, ConsistentRead=True)
    return dict(item["Item"])


def assert_not_in_plain_text(item: dict[str, Any], secret: str) -> None:
    text = repr(item)
    raw = secret.removeprefix("whsec_")
    assert secret not in text and raw not in text
    assert base64.b64decode(raw).hex() not in text


def test_item06_the_stored_secret_is_sealed_and_still_signs(api: Api, hooks: None, receiver: WebhookReceiver) -> None:
    channel = create_channel(api, name="hook", channel_type="webhook", target=receiver.url("/in"))
    secret = channel["signing_secret"]
    item = stored(channel["id"])
    assert item["signing_secret"]["S"].startswith("kms1:")
    assert_not_in_plain_text(item, secret)
    enqueue(api, channel["id"])
    pump_until_idle()
    (request,) = receiver.requests
    Webhook(secret).verify(request.body, request.headers)


def test_item06_a_sealed_secret_opens_only_for_its_own_channel(api: Api, hooks: None) -> None:
    first = create_channel(api, name="one", channel_type="webhook", target="https://hooks.example.com/1")
    second = create_channel(api, name="two", channel_type="webhook", target="https://hooks.example.com/2")
    box = SecretBox(lambda: aws.client("kms"), get_settings().signing_key_id, cache_seconds=0)
    sealed = stored(first["id"])["signing_secret"]["S"]
    assert box.open(first["id"], sealed) == first["signing_secret"]
    with pytest.raises(SecretBoxError):
        box.open(second["id"], sealed)  # copied onto another channel, it does not open
    tampered = sealed[:-8] + ("A" * 8 if not sealed.endswith("A" * 8) else "B" * 8)
    with pytest.raises(SecretBoxError):
        box.open(first["id"], tampered)


def test_item06_the_previous_secret_is_deleted_when_its_overlap_ends(
    api: Api, hooks: None, receiver: WebhookReceiver
) -> None:
    channel = create_channel(api, name="hook", channel_type="webhook", target=receiver.url("/in"))
    rotated = api.post(f"/system/notify/channels/{channel['id']}/rotate-secret")
    assert rotated.status == 200
    item = stored(channel["id"])
    assert item["previous_secret"]["S"].startswith("kms1:") and item["signing_secret"]["S"].startswith("kms1:")
    assert_not_in_plain_text(item, channel["signing_secret"])
    assert_not_in_plain_text(item, rotated.json["signing_secret"])

    deps = get_deps()
    later = FixedClock(utcnow() + timedelta(hours=24, seconds=1))
    service = Notifications(get_settings(), later, deps.ids)
    notification = enqueue(api, channel["id"])
    assert service.deliver(notification["id"]).outcome == "sent"
    (request,) = receiver.requests
    assert len(request.header("webhook-signature").split(" ")) == 1
    Webhook(rotated.json["signing_secret"]).verify(request.body, request.headers)
    item = stored(channel["id"])
    assert "previous_secret" not in item and "previous_secret_expires_at" not in item
