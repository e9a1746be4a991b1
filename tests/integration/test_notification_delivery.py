"""Delivery: the SQS worker, the drivers against moto (SES, SNS) and a real HTTP receiver,
retries with backoff through the message's visibility timeout, the lease, the sweeper.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import chalice.test
import pytest
from botocore.exceptions import ClientError
from chalice.test import Client
from moto.core import DEFAULT_ACCOUNT_ID
from standardwebhooks.webhooks import Webhook

from chalicelib import aws
from chalicelib.channels.base import ChannelConfig, Delivered, OutgoingMessage
from chalicelib.channels.email import EmailDriver
from chalicelib.channels.registry import Registry
from chalicelib.clock import FixedClock, parse_iso, utcnow
from chalicelib.deps import get_deps
from chalicelib.resources import queue_url
from chalicelib.services.notifications import DeliveryReport, Notifications
from chalicelib.settings import get_settings
from chalicelib.workers import notifications as worker
from tests.notify_support import create_channel, enqueue, pump_once, pump_until_idle, queue_depth, sqs_records
from tests.support import Api, reset_all
from tests.webhook_receiver import Response, WebhookReceiver


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


@pytest.fixture
def local_hooks(monkeypatch: pytest.MonkeyPatch, aws: None) -> None:
    """Webhooks to 127.0.0.1 allowed (the local stack's setting), retries without waiting."""
    monkeypatch.setenv("VALHALLA_ALLOW_PRIVATE_WEBHOOK_TARGETS", "true")
    monkeypatch.setenv("VALHALLA_RETRY_SCHEDULE", "0,0,0")
    reset_all()


def use_schedule(monkeypatch: pytest.MonkeyPatch, schedule: str) -> None:
    monkeypatch.setenv("VALHALLA_RETRY_SCHEDULE", schedule)
    reset_all()


def install(service: Notifications) -> Notifications:
    """Make the API and the worker use this service (another clock, SQS client or drivers)."""
    get_deps().__dict__["notifications"] = service
    return service


def service_with(**overrides: Any) -> Notifications:
    deps = get_deps()
    arguments: dict[str, Any] = {"settings": get_settings(), "clock": deps.clock, "ids": deps.ids, **overrides}
    return Notifications(**arguments)


def hook_channel(api: Api, receiver: WebhookReceiver, name: str = "hook") -> dict[str, Any]:
    return create_channel(api, name=name, channel_type="webhook", target=receiver.url("/in"))


def detail(api: Api, notification_id: int) -> dict[str, Any]:
    reply = api.get(f"/system/notify/{notification_id}")
    assert reply.status == 200, reply.json
    return dict(reply.json)


def ses_sent() -> list[Any]:
    from moto.ses.models import ses_backends

    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


def sns_sms() -> list[tuple[str, str]]:
    from moto.sns.models import sns_backends

    return list(sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.values())


# --- the drivers, end to end ------------------------------------------------------


def test_email_is_sent_through_ses_from_the_configured_sender(api: Api) -> None:
    channel = create_channel(api, target="owner@example.com")
    notification = enqueue(api, channel["id"], subject="Alert", body="System updated")
    assert pump_until_idle() == 1
    sent = detail(api, notification["id"])
    assert sent["status"] == "sent" and sent["attempts"] == 1 and sent["sent_at"]
    assert sent["provider_message_id"] and sent["history"][0]["provider_message_id"] == sent["provider_message_id"]
    (message,) = ses_sent()
    assert message.source == get_settings().email_sender
    assert message.destinations["ToAddresses"] == ["owner@example.com"]
    assert message.subject == "Alert" and message.body == "System updated"
    assert queue_depth() == 0


def test_sms_is_published_through_sns_to_the_phone_number(api: Api) -> None:
    channel = create_channel(api, name="pager", channel_type="sms", target="+14155550100")
    notification = enqueue(api, channel["id"], subject="Disk full", body="db-1 at 95%")
    pump_until_idle()
    sent = detail(api, notification["id"])
    assert sent["status"] == "sent" and sent["provider_message_id"]
    assert sns_sms() == [("+14155550100", "Disk full\ndb-1 at 95%")]


def test_sms_is_sent_as_a_transactional_message() -> None:
    from chalicelib.channels.sms import SmsDriver

    calls: list[dict[str, Any]] = []

    class RecordingSns:
        def publish(self, **kwargs: Any) -> dict[str, str]:
            calls.append(kwargs)
            return {"MessageId": "m-1"}

    config = ChannelConfig(id=1, name="p", channel_type="sms", target="+14155550100")
    message = OutgoingMessage(1, "msg_1", "s", "b", None, "2026-01-01T00:00:00.000Z")
    assert SmsDriver(RecordingSns()).send(config, message).provider_message_id == "m-1"
    attributes = calls[0]["MessageAttributes"]["AWS.SNS.SMS.SMSType"]
    assert attributes == {"DataType": "String", "StringValue": "Transactional"}


def test_a_rejected_email_fails_at_once(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALHALLA_EMAIL_SENDER", "not-verified@valhalla.example.com")
    reset_all()
    channel = create_channel(api)
    notification = enqueue(api, channel["id"])
    pump_until_idle()
    failed = detail(api, notification["id"])
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert "MessageRejected" in failed["last_error"]
    assert failed["history"][0]["outcome"] == "failed" and queue_depth() == 0


def test_a_throttled_email_is_retried(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    use_schedule(monkeypatch, "0,0")

    class FlakySes:
        def __init__(self) -> None:
            self.calls = 0

        def send_email(self, **kwargs: Any) -> dict[str, str]:
            self.calls += 1
            if self.calls == 1:
                raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "SendEmail")
            return {"MessageId": "ses-2"}

    ses = FlakySes()
    settings = get_settings()
    install(service_with(registry=Registry(settings, {"email": EmailDriver(ses, settings.email_sender)})))
    notification = enqueue(api, create_channel(api)["id"])
    pump_until_idle()
    sent = detail(api, notification["id"])
    assert sent["status"] == "sent" and sent["attempts"] == 2 and sent["provider_message_id"] == "ses-2"
    assert [attempt["outcome"] for attempt in sent["history"]] == ["retry", "sent"]
    assert "Throttling" in sent["history"][0]["error"]


def test_webhook_delivery_is_signed_and_verifiable(api: Api, local_hooks: None, receiver: WebhookReceiver) -> None:
    channel = hook_channel(api, receiver)
    notification = enqueue(api, channel["id"], payload={"resource": "config"})
    pump_until_idle()
    sent = detail(api, notification["id"])
    assert sent["status"] == "sent" and sent["history"][0]["http_status"] == 200
    (request,) = receiver.requests
    document = Webhook(channel["signing_secret"]).verify(request.body, request.headers)
    assert document["id"] == notification["id"] and document["payload"] == {"resource": "config"}
    assert document["created_at"] == notification["created_at"]
    assert request.header("webhook-id") == sent["provider_message_id"]


def test_after_rotation_receivers_verify_with_either_secret(
    api: Api, local_hooks: None, receiver: WebhookReceiver
) -> None:
    channel = hook_channel(api, receiver)
    new_secret = api.post(f"/system/notify/channels/{channel['id']}/rotate-secret").json["signing_secret"]
    enqueue(api, channel["id"])
    pump_until_idle()
    (request,) = receiver.requests
    Webhook(new_secret).verify(request.body, request.headers)
    Webhook(channel["signing_secret"]).verify(request.body, request.headers)


def test_the_previous_secret_stops_signing_after_24_hours(
    api: Api, local_hooks: None, receiver: WebhookReceiver
) -> None:
    channel = hook_channel(api, receiver)
    api.post(f"/system/notify/channels/{channel['id']}/rotate-secret")
    later = service_with(clock=FixedClock(utcnow() + timedelta(hours=24, seconds=1)))
    notification = enqueue(api, channel["id"])
    later.deliver(notification["id"])
    (request,) = receiver.requests
    assert len(request.header("webhook-signature").split(" ")) == 1


# --- retries ------------------------------------------------------------------------


def test_a_receiver_failing_twice_gets_a_third_successful_attempt(
    api: Api, local_hooks: None, receiver: WebhookReceiver
) -> None:
    receiver.fail_times(2)
    channel = hook_channel(api, receiver)
    notification = enqueue(api, channel["id"])
    pump_until_idle()
    sent = detail(api, notification["id"])
    assert sent["status"] == "sent" and sent["attempts"] == 3
    assert [attempt["outcome"] for attempt in sent["history"]] == ["retry", "retry", "sent"]
    assert [attempt["http_status"] for attempt in sent["history"]] == [500, 500, 200]
    assert [attempt["number"] for attempt in sent["history"]] == [1, 2, 3]
    assert all(attempt["duration_ms"] >= 0 for attempt in sent["history"])
    assert sent["last_error"] is None and sent["history"][0]["error"].startswith("HTTP 500")
    requests = receiver.requests
    assert len(requests) == 3 and len({request.header("webhook-id") for request in requests}) == 1
    for request in requests:
        Webhook(channel["signing_secret"]).verify(request.body, request.headers)


def test_a_transient_failure_hides_the_message_for_the_backoff(
    api: Api, local_hooks: None, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_schedule(monkeypatch, "30,300")
    receiver.fail_times(1, status=503)
    notification = enqueue(api, hook_channel(api, receiver)["id"])
    before = utcnow()
    outcome = pump_once()
    # THEN the record is reported as a partial batch failure, and SQS hides it for ~30 s
    assert outcome["records"] == 1 and len(outcome["batchItemFailures"]) == 1
    pending = detail(api, notification["id"])
    assert pending["status"] == "pending" and pending["attempts"] == 1 and pending["last_error"]
    wait = (parse_iso(pending["next_attempt_at"]) - before).total_seconds()
    assert 24 - 1 <= wait <= 36 + 1  # 30 s with +/-20% jitter
    assert pending["history"][0]["next_attempt_at"] == pending["next_attempt_at"]
    assert sqs_records() == [] and queue_depth() == 1


def test_retry_after_from_the_receiver_is_a_floor(
    api: Api, local_hooks: None, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_schedule(monkeypatch, "1")
    receiver.script(Response.too_many(120))
    notification = enqueue(api, hook_channel(api, receiver)["id"])
    before = utcnow()
    pump_once()
    pending = detail(api, notification["id"])
    assert (parse_iso(pending["next_attempt_at"]) - before).total_seconds() >= 119
    assert pending["history"][0]["http_status"] == 429 and sqs_records() == []


def test_a_permanent_error_fails_at_once(api: Api, local_hooks: None, receiver: WebhookReceiver) -> None:
    receiver.script(Response(404, body=b"no such hook"))
    notification = enqueue(api, hook_channel(api, receiver)["id"])
    pump_until_idle()
    failed = detail(api, notification["id"])
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert failed["last_error"] == "HTTP 404: no such hook"
    assert len(receiver.requests) == 1 and queue_depth() == 0
    assert api.get("/system/notify/?status=failed").json["items"][0]["id"] == notification["id"]


def test_after_the_last_step_it_fails_and_a_manual_retry_keeps_counting(
    api: Api, local_hooks: None, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_schedule(monkeypatch, "0")
    receiver.fail_times(2)
    notification = enqueue(api, hook_channel(api, receiver)["id"])
    pump_until_idle()
    failed = detail(api, notification["id"])
    assert failed["status"] == "failed" and failed["attempts"] == 2
    assert [attempt["outcome"] for attempt in failed["history"]] == ["retry", "failed"]
    # WHEN an operator retries it
    retried = api.post(f"/system/notify/{notification['id']}/retry")
    assert retried.status == 200 and retried.json["status"] == "pending" and retried.json["attempts"] == 2
    assert api.post(f"/system/notify/{notification['id']}/retry").status == 409
    pump_until_idle()
    sent = detail(api, notification["id"])
    assert sent["status"] == "sent" and sent["attempts"] == 3
    assert [attempt["outcome"] for attempt in sent["history"]] == ["retry", "failed", "sent"]
    assert len(receiver.requests) == 3
    actions = [event["action"] for event in api.get("/system/audit").json["items"]]
    assert "notification.retry" in actions


def test_a_channel_deactivated_after_enqueue_fails_the_notification(api: Api) -> None:
    channel = create_channel(api)
    notification = enqueue(api, channel["id"])
    api.patch(f"/system/notify/channels/{channel['id']}", {"active": False})
    pump_until_idle()
    failed = detail(api, notification["id"])
    assert failed["status"] == "failed" and "inactive" in failed["last_error"] and ses_sent() == []


# --- the lease ----------------------------------------------------------------------


class ReentrantDriver:
    """Sends once; while sending, a second worker tries to deliver the same notification."""

    def __init__(self, service: Notifications) -> None:
        self.service = service
        self.sent: list[int] = []
        self.second_worker: list[str] = []

    def send(self, channel: ChannelConfig, message: OutgoingMessage) -> Delivered:
        self.sent.append(message.id)
        self.second_worker.append(self.service.deliver(message.id, owner="worker-b").outcome)
        return Delivered(provider_message_id="once")


def test_two_workers_one_send_while_the_lease_holds(api: Api) -> None:
    service = service_with()
    driver = ReentrantDriver(service)
    service.registry.register("email", driver)
    install(service)
    notification = enqueue(api, create_channel(api)["id"])
    report = service.deliver(notification["id"], owner="worker-a")
    assert report.outcome == "sent" and driver.sent == [notification["id"]]
    assert driver.second_worker == ["busy"]
    # and a late duplicate message finds it sent and does nothing
    assert service.deliver(notification["id"], owner="worker-c").outcome == "skip"
    assert driver.sent == [notification["id"]] and detail(api, notification["id"])["attempts"] == 1


def test_a_duplicate_message_in_the_same_batch_sends_once(api: Api) -> None:
    notification = enqueue(api, create_channel(api)["id"])
    (record,) = sqs_records()
    duplicate = {**record, "messageId": "duplicate-of-" + record["messageId"]}
    result = worker.deliver([record, duplicate])
    assert result == {"batchItemFailures": []}
    assert len(ses_sent()) == 1 and detail(api, notification["id"])["attempts"] == 1


def test_a_busy_message_comes_back_after_the_lease(api: Api) -> None:
    notification = enqueue(api, create_channel(api)["id"])
    service = get_deps().notifications
    assert not isinstance(service.claim(notification["id"], "crashed-worker"), DeliveryReport)
    result = pump_once()
    assert len(result["batchItemFailures"]) == 1  # held by another worker: try again later
    assert sqs_records() == [] and ses_sent() == []


def test_a_lease_left_by_a_crashed_worker_expires(api: Api) -> None:
    notification = enqueue(api, create_channel(api)["id"])
    clock = FixedClock(utcnow())
    service = service_with(clock=clock)
    service.claim(notification["id"], "crashed-worker")
    assert service.deliver(notification["id"]).outcome == "busy"
    clock.advance(seconds=get_settings().lease_seconds + 1)
    assert service.deliver(notification["id"]).outcome == "sent"
    assert len(ses_sent()) == 1


def test_a_message_for_an_item_not_due_yet_is_dropped(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    use_schedule(monkeypatch, "600")

    class Failing:
        def send(self, channel: ChannelConfig, message: OutgoingMessage) -> Delivered:
            from chalicelib.channels.base import transient

            raise transient("down")

    service = install(service_with())
    service.registry.register("email", Failing())
    notification = enqueue(api, create_channel(api)["id"])
    assert service.deliver(notification["id"]).outcome == "retry"
    # a duplicate (sweeper, SQS at-least-once) arriving before next_attempt_at does nothing
    assert service.deliver(notification["id"]).outcome == "skip"
    assert detail(api, notification["id"])["attempts"] == 1


# --- losing nothing -----------------------------------------------------------------


class BrokenSqs:
    """The notifications queue is unreachable for sends; everything else works."""

    def __init__(self) -> None:
        self.real = aws.client("sqs")

    def send_message(self, **kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "SQS is down"}}, "SendMessage")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_an_sqs_outage_at_enqueue_is_repaired_by_the_sweeper(api: Api) -> None:
    broken = BrokenSqs()
    install(service_with(sqs=lambda: broken))
    channel = create_channel(api)
    reply = api.post("/system/notify/", {"channel_id": channel["id"], "subject": "s", "body": "b"})
    # THEN the API still accepts it, and it waits in the outbox
    assert reply.status == 201 and reply.json["status"] == "pending"
    assert queue_depth() == 0
    grace = get_settings().sweep_grace_seconds
    too_early = service_with(clock=FixedClock(utcnow() + timedelta(seconds=grace - 5)))
    assert worker.sweep(service=too_early) == 0
    late = service_with(clock=FixedClock(utcnow() + timedelta(seconds=grace + 1)))
    assert worker.sweep(service=late) == 1
    assert worker.sweep(service=late) == 0  # swept once, not on every run
    assert queue_depth() == 1
    pump_until_idle()
    assert detail(api, reply.json["id"])["status"] == "sent" and len(ses_sent()) == 1
    much_later = service_with(clock=FixedClock(utcnow() + timedelta(hours=1)))
    assert worker.sweep(service=much_later) == 0


def test_the_sweeper_leaves_items_waiting_for_their_backoff(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    use_schedule(monkeypatch, "3600")

    class Failing:
        def send(self, channel: ChannelConfig, message: OutgoingMessage) -> Delivered:
            from chalicelib.channels.base import transient

            raise transient("down")

    service = install(service_with())
    service.registry.register("email", Failing())
    enqueue(api, create_channel(api)["id"])
    pump_once(service)
    grace = get_settings().sweep_grace_seconds
    soon = service_with(clock=FixedClock(utcnow() + timedelta(seconds=grace + 60)))
    assert worker.sweep(service=soon) == 0
    overdue = service_with(clock=FixedClock(utcnow() + timedelta(seconds=3600 * 1.2 + grace + 60)))
    assert worker.sweep(service=overdue) == 1


def test_deliveries_and_the_sweeper_keep_going_in_read_only_and_maintenance(api: Api) -> None:
    channel = create_channel(api)
    first = enqueue(api, channel["id"])
    api.post("/system/maintenance/state", {"mode": "read_only"})
    pump_until_idle()
    assert detail(api, first["id"])["status"] == "sent"
    api.post("/system/maintenance/state", {"mode": "normal"})
    broken = BrokenSqs()
    install(service_with(sqs=lambda: broken))
    second = enqueue(api, channel["id"])
    api.post("/system/maintenance/state", {"mode": "maintenance"})
    late = service_with(clock=FixedClock(utcnow() + timedelta(seconds=get_settings().sweep_grace_seconds + 1)))
    assert worker.sweep(service=late) == 1
    pump_until_idle(late)
    assert detail(api, second["id"])["status"] == "sent"


# --- the worker's contract with Lambda -------------------------------------------------


def test_a_malformed_message_is_dropped_not_retried_forever(api: Api) -> None:
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=queue_url("notifications"), MessageBody="not json")
    sqs.send_message(QueueUrl=queue_url("notifications"), MessageBody=json.dumps({"id": 999}))
    outcome = pump_once()
    assert outcome["records"] == 2 and outcome["batchItemFailures"] == []
    assert queue_depth() == 0


def test_without_enough_time_left_records_are_handed_back_untouched(api: Api) -> None:
    notification = enqueue(api, create_channel(api)["id"])
    records = sqs_records()
    result = worker.deliver(records, remaining_ms=lambda: 1000)
    assert result == {"batchItemFailures": [{"itemIdentifier": records[0]["messageId"]}]}
    assert detail(api, notification["id"])["attempts"] == 0 and ses_sent() == []


def test_counters_are_emitted_as_cloudwatch_emf(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    enqueue(api, create_channel(api)["id"])
    capsys.readouterr()
    pump_until_idle()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    (emf,) = lines
    directive = emf["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "Valhalla"
    assert {"Name": "NotificationsSent", "Unit": "Count"} in directive["Metrics"]
    assert emf["NotificationsSent"] in (1, 1.0, [1.0])


def test_the_app_wires_the_sqs_handler_and_the_sweeper(
    chalice_client: Client, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app import app

    # The test client's Lambda context gives 3 s, which a loaded machine can spend on the
    # first record alone; this test is about the wiring, so give it a real Lambda's minute.
    one_minute = functools.partial(chalice.test.LambdaContext, max_runtime_ms=60_000)
    monkeypatch.setattr(chalice.test, "LambdaContext", one_minute)
    monkeypatch.setenv("VALHALLA_WEBHOOK_TIMEOUT_SECONDS", "1")
    reset_all()

    sqs_handler = next(source for source in app.event_sources if getattr(source, "name", "") == "deliver_notifications")
    assert sqs_handler.queue == get_settings().queue("notifications") and sqs_handler.batch_size == 10
    assert any(getattr(source, "name", "") == "sweep_notifications" for source in app.event_sources)
    channel = create_channel(api)
    enqueue(api, channel["id"])
    enqueue(api, channel["id"])
    records = [
        {**record, "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:" + get_settings().queue("notifications")}
        for record in sqs_records()
    ]
    assert len({record["messageId"] for record in records}) == 2
    response = chalice_client.lambda_.invoke("deliver_notifications", {"Records": records})
    assert response.payload == {"batchItemFailures": []}
    assert len(ses_sent()) == 2
    swept = chalice_client.lambda_.invoke(
        "sweep_notifications",
        chalice_client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
        ),
    )
    assert swept.payload is None


def test_a_webhook_whose_host_resolves_to_a_private_address_fails_without_any_connection(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from chalicelib.channels.webhook import WebhookDriver
    from tests.integration.test_notification_webhook import fake_resolver

    attempts: list[Any] = []

    def refuse(address: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(address)
        raise AssertionError(f"a connection to {address} was attempted")

    monkeypatch.setattr(socket, "create_connection", refuse)
    resolver = fake_resolver({"metadata.valhalla.test": ["169.254.169.254"]})
    webhook = WebhookDriver(timeout=1, allow_private=False, resolver=resolver)
    install(service_with(registry=Registry(get_settings(), {"webhook": webhook})))
    channel = create_channel(api, name="sneaky", channel_type="webhook", target="https://metadata.valhalla.test/x")
    notification = enqueue(api, channel["id"])
    pump_until_idle()
    failed = detail(api, notification["id"])
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert "SSRF" in failed["last_error"] and "169.254.169.254" in failed["last_error"]
    assert attempts == [] and queue_depth() == 0


def test_two_concurrent_workers_send_once(api: Api) -> None:
    import threading

    in_send, other_done = threading.Event(), threading.Event()
    sends: list[int] = []

    class BlockingDriver:
        """Holds the send open until the other worker has had its go."""

        def send(self, channel: ChannelConfig, message: OutgoingMessage) -> Delivered:
            sends.append(message.id)
            in_send.set()
            assert other_done.wait(10), "the second worker never finished"
            return Delivered(provider_message_id="one")

    service = install(service_with())
    service.registry.register("email", BlockingDriver())
    notification = enqueue(api, create_channel(api)["id"])
    outcomes: dict[str, str] = {}

    def first() -> None:
        outcomes["first"] = service.deliver(notification["id"], owner="worker-1").outcome

    def second() -> None:
        assert in_send.wait(10)
        outcomes["second"] = service.deliver(notification["id"], owner="worker-2").outcome
        other_done.set()

    workers = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(20)
    assert outcomes == {"first": "sent", "second": "busy"} and sends == [notification["id"]]
    assert detail(api, notification["id"])["attempts"] == 1
