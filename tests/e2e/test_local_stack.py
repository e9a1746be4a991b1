"""The local stack (`make run`): embedded AWS, the API over HTTP, queue pumps and the scheduler."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from chalice import Chalice, Cron, Rate

from chalicelib import aws
from chalicelib.clock import FixedClock
from chalicelib.local import LocalStack
from chalicelib.local.gateway import GATEWAY_RESPONSES, gateway_error, gateway_template
from chalicelib.local.process import StackProcess
from chalicelib.local.pumps import SqsPump, failed_ids, sqs_sources
from chalicelib.local.runtime import lambda_context
from chalicelib.local.scheduler import Cron as CronSchedule
from chalicelib.local.scheduler import Rate as RateSchedule
from chalicelib.local.scheduler import Scheduler, parse_schedule
from chalicelib.settings import get_settings
from tests.support import reset_all

ADMIN_TOKEN = "vk_local_stack_test_admin_token"
MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
READ_ONLY_BODY = {
    "status_code": 503,
    "detail": "System is in read-only mode. Write operations are not allowed.",
    "mode": "read_only",
}


@dataclass
class HttpReply:
    status: int
    headers: dict[str, str]
    body: Any


def http(method: str, url: str, body: Any = None, token: str | None = None) -> HttpReply:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw, sent = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, sent = error.code, error.read(), error.headers
    return HttpReply(status, {k.lower(): v for k, v in sent.items()}, json.loads(raw) if raw else None)


# --- a test-only app with event handlers ---


@dataclass
class Seen:
    batches: list[list[dict[str, Any]]] = field(default_factory=list)
    contexts: list[tuple[Any, Any]] = field(default_factory=list)
    scheduled: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    slow_started: threading.Event = field(default_factory=threading.Event)
    release_slow: threading.Event = field(default_factory=threading.Event)
    fired: threading.Event = field(default_factory=threading.Event)


def make_events_app(queue_name: str) -> tuple[Chalice, Seen]:
    """SQS bodies: ``ok...`` succeeds, ``retry-now...`` fails and is made visible again at once,
    ``fail...`` fails (back after the visibility timeout), ``boom`` makes the handler raise."""
    app = Chalice(app_name="localtest")
    seen = Seen()

    @app.on_sqs_message(queue=queue_name, batch_size=5)
    def handle(event):  # type: ignore[no-untyped-def]
        records = [record.to_dict() for record in event]
        seen.batches.append(records)
        seen.contexts.append((getattr(app, "lambda_context", None), event.context))
        failures = []
        for record in records:
            body = record["body"]
            if body == "boom":
                raise RuntimeError("boom")
            if body.startswith("retry-now"):
                sqs = aws.client("sqs")
                queue_url = sqs.get_queue_url(QueueName=record["eventSourceARN"].rsplit(":", 1)[-1])["QueueUrl"]
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
                )
            if body.startswith(("retry-now", "fail")):
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    @app.schedule(Rate(5, unit=Rate.MINUTES))
    def every_five(event):  # type: ignore[no-untyped-def]
        seen.scheduled.append(("every_five", event.to_dict()))
        seen.fired.set()

    @app.schedule("cron(30 12 ? * MON-FRI *)")
    def weekday_lunch(event):  # type: ignore[no-untyped-def]
        seen.scheduled.append(("weekday_lunch", event.to_dict()))

    @app.route("/slow")
    def slow():  # type: ignore[no-untyped-def]
        seen.slow_started.set()
        seen.release_slow.wait(30)
        return {"slow": True}

    @app.route("/fast")
    def fast():  # type: ignore[no-untyped-def]
        return {"fast": True}

    return app, seen


@dataclass
class EventsStack:
    stack: LocalStack
    seen: Seen
    clock: FixedClock
    lines: list[str]
    queue_name: str
    pump: SqsPump = field(init=False)

    def send(self, *bodies: str) -> None:
        sqs = aws.client("sqs")
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)]
        sqs.send_message_batch(QueueUrl=self.pump.queue_url, Entries=entries)

    def counts(self) -> tuple[int, int]:
        """(visible, in flight) messages on the queue."""
        attributes = aws.client("sqs").get_queue_attributes(
            QueueUrl=self.pump.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


@pytest.fixture(scope="module")
def events_stack() -> Iterator[EventsStack]:
    """One stack for the module (starting one costs a second or two); :func:`events` resets it."""
    queue_name = get_settings().queue("exports")
    app, seen = make_events_app(queue_name)
    clock = FixedClock(MONDAY_NOON)
    lines: list[str] = []
    stack = LocalStack(app, port=0, admin_token=ADMIN_TOKEN, log=lines.append, clock=clock, run_event_sources=False)
    try:
        with stack:
            yield EventsStack(stack, seen, clock, lines, queue_name)
    finally:
        reset_all(endpoint_changed=True)


@pytest.fixture
def events(events_stack: EventsStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[EventsStack]:
    stack = events_stack.stack
    monkeypatch.setenv("VALHALLA_AWS_ENDPOINT_URL", stack.endpoint_url)
    reset_all(endpoint_changed=True)
    # A fresh queue per test (SQS allows one purge a minute), pumped into the app's handler.
    events_stack.queue_name = f"valhalla-local-test-{uuid.uuid4().hex[:12]}"
    aws.client("sqs").create_queue(QueueName=events_stack.queue_name, Attributes={"VisibilityTimeout": "60"})
    (source,) = sqs_sources(stack.app)
    source = copy.copy(source)
    source.queue = events_stack.queue_name
    events_stack.pump = SqsPump(
        stack.app, source, sqs=aws.client("sqs"), stage="local", region="us-east-1", log=events_stack.lines.append
    )
    events_stack.seen.__init__()  # type: ignore[misc]
    events_stack.lines.clear()
    events_stack.clock.now = MONDAY_NOON
    stack.scheduler = Scheduler(
        stack.app, stage=stack.stage, region="us-east-1", log=events_stack.lines.append, clock=events_stack.clock
    )
    yield events_stack
    reset_all(endpoint_changed=True)


# --- SQS pumps ---


def test_a_batch_reaches_the_handler_as_a_lambda_sqs_event_and_is_deleted(events: EventsStack) -> None:
    events.send("ok-1", "ok-2", "ok-3")

    delivery = events.pump.poll_once(wait_seconds=0)

    assert delivery is not None and (delivery.received, delivery.deleted, delivery.kept) == (3, 3, 0)
    (records,) = events.seen.batches
    assert len({record["messageId"] for record in records}) == 3
    assert len({record["receiptHandle"] for record in records}) == 3
    for record in records:
        assert record["eventSource"] == "aws:sqs"
        assert record["eventSourceARN"].startswith("arn:aws:sqs:us-east-1:")
        assert record["eventSourceARN"].endswith(":" + events.queue_name)
        assert record["awsRegion"] == "us-east-1"
        assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
        assert record["attributes"]["ApproximateReceiveCount"] == "1"
        assert {"SentTimestamp", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
        assert record["messageAttributes"] == {}
    assert sorted(record["body"] for record in records) == ["ok-1", "ok-2", "ok-3"]
    assert events.counts() == (0, 0)
    assert any(f"sqs {events.queue_name} -> handle: 3 record(s), 3 deleted" in line for line in events.lines)


def test_the_handler_gets_a_lambda_context_with_a_budget_as_on_lambda(events: EventsStack) -> None:
    events.send("ok")
    events.pump.poll_once(wait_seconds=0)

    ((app_context, context),) = events.seen.contexts
    assert context.function_name == "localtest-local-handle"
    assert uuid.UUID(context.aws_request_id)
    assert 0 < context.get_remaining_time_in_millis() <= 60_000
    assert app_context is None  # Chalice sets app.lambda_context for HTTP only, on Lambda too


def test_event_handlers_take_their_context_from_the_event_as_on_lambda(aws: None) -> None:
    import app as application

    application.app.lambda_context = None  # on Lambda it is set for HTTP requests only
    context = lambda_context("valhalla-local-deliver_notifications", "us-east-1")

    result = application.deliver_notifications({"Records": []}, context)

    assert result == {"batchItemFailures": []}


def test_records_listed_in_batch_item_failures_stay_on_the_queue(events: EventsStack) -> None:
    events.send("ok", "retry-now", "fail-later")

    delivery = events.pump.poll_once(wait_seconds=0)

    assert delivery is not None and (delivery.deleted, delivery.kept) == (1, 2)
    # retry-now was made visible again by the handler; fail-later waits out its visibility timeout.
    assert events.counts() == (1, 1)
    again = events.pump.poll_once(wait_seconds=0)
    assert again is not None and again.kept == 1
    (record,) = events.seen.batches[-1]
    assert record["body"] == "retry-now"
    assert record["attributes"]["ApproximateReceiveCount"] == "2"
    assert record["messageId"] == next(r["messageId"] for r in events.seen.batches[0] if r["body"] == "retry-now")


def test_nothing_is_deleted_when_the_handler_raises(events: EventsStack) -> None:
    events.send("ok", "boom")

    delivery = events.pump.poll_once(wait_seconds=0)

    assert delivery is not None and (delivery.deleted, delivery.kept) == (0, 2)
    assert delivery.error == "RuntimeError: boom"
    assert events.counts() == (0, 2)
    assert any("handler raised RuntimeError: boom" in line for line in events.lines)


def test_an_empty_queue_delivers_nothing(events: EventsStack) -> None:
    assert events.pump.poll_once(wait_seconds=0) is None
    assert events.seen.batches == []


def test_a_running_pump_that_finds_its_queue_empty_calls_its_idle_hook(events: EventsStack) -> None:
    idle = threading.Event()
    events.pump.on_idle = idle.set  # the stack's notifications pump writes the worker's held tallies here
    events.pump.wait_seconds = 0
    events.send("ok")
    events.pump.start()
    try:
        assert idle.wait(10)
        assert [record["body"] for batch in events.seen.batches for record in batch] == ["ok"]
    finally:
        events.pump.signal_stop()
        events.pump.join(5)


@pytest.mark.parametrize(
    ("result", "failed"),
    [
        (None, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, {"a", "b"}),  # unknown id: the whole batch
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, {"a", "b"}),
        ({"batchItemFailures": "b"}, {"a", "b"}),
    ],
)
def test_batch_item_failures_are_read_as_lambda_reads_them(result: Any, failed: set[str]) -> None:
    assert failed_ids(result, ["a", "b"]) == failed


# --- the scheduler ---


def test_schedules_fire_when_due_with_an_eventbridge_payload(events: EventsStack) -> None:
    scheduler = events.stack.scheduler
    assert scheduler is not None

    assert scheduler.run_due(MONDAY_NOON + timedelta(minutes=4)) == []
    scheduler.run_due(MONDAY_NOON + timedelta(minutes=5))

    ((name, payload),) = events.seen.scheduled
    assert name == "every_five"
    assert set(payload) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert payload["version"] == "0" and uuid.UUID(payload["id"])
    assert payload["detail-type"] == "Scheduled Event" and payload["source"] == "aws.events"
    assert payload["account"] == "123456789012" and payload["region"] == "us-east-1"
    assert payload["time"] == "2026-11-23T12:05:00Z"
    assert payload["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/localtest-local-every_five"]
    assert payload["detail"] == {}

    scheduler.run_due(MONDAY_NOON + timedelta(minutes=30))
    fired = [(name, payload["time"]) for name, payload in events.seen.scheduled[1:]]
    assert sorted(fired) == [("every_five", "2026-11-23T12:10:00Z"), ("weekday_lunch", "2026-11-23T12:30:00Z")]
    assert sum(line.startswith("schedule ") for line in events.lines) == 3


def test_the_scheduler_thread_fires_on_the_injected_clock(events: EventsStack) -> None:
    scheduler = events.stack.scheduler
    assert scheduler is not None
    events.clock.advance(minutes=5)
    scheduler.start()
    try:
        assert events.seen.fired.wait(10)
    finally:
        scheduler.signal_stop()
        scheduler.join(10)
    assert [name for name, _ in events.seen.scheduled] == ["every_five"]


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("0/15 * * * ? *", "2026-11-23T12:07", "2026-11-23T12:15"),
        ("*/15 * * * ? *", "2026-11-23T12:45", "2026-11-23T13:00"),
        ("30 12 ? * MON-FRI *", "2026-11-27T13:00", "2026-11-30T12:30"),  # Friday afternoon -> Monday
        ("0 3 * * ? *", "2026-11-23T03:00", "2026-11-24T03:00"),  # strictly after
        ("0 0 1 JAN,JUL ? *", "2026-02-10T00:00", "2026-07-01T00:00"),
        ("5,10-12 8 ? * 1 *", "2026-11-22T08:10", "2026-11-22T08:11"),  # 1 = Sunday
        ("0 0 29 2 ? *", "2026-03-01T00:00", "2028-02-29T00:00"),
        ("0 12 31 * ? 2026", "2026-11-30T00:00", "2026-12-31T12:00"),
        ("0 9-17/4 ? * 2-6 *", "2026-11-23T09:00", "2026-11-23T13:00"),
    ],
)
def test_cron_finds_the_next_matching_minute(expression: str, after: str, expected: str) -> None:
    cron = CronSchedule.parse(expression)
    start = datetime.fromisoformat(after).replace(tzinfo=UTC)
    nxt = cron.next_after(start)
    assert nxt == datetime.fromisoformat(expected).replace(tzinfo=UTC)
    assert nxt is not None and cron.matches(nxt)


def test_cron_in_a_past_year_never_fires() -> None:
    assert CronSchedule.parse("0 0 * * ? 2020").next_after(MONDAY_NOON) is None


@pytest.mark.parametrize(
    "expression",
    [
        "cron(* * * * * *)",  # day-of-month and day-of-week both set
        "cron(0 0 ? * ? *)",  # both '?'
        "cron(0 0 L * ? *)",
        "cron(0 0 ? * 2#1 *)",
        "cron(61 * * * ? *)",
        "cron(0 0 * *)",
        "cron(0 0 * * ? 1969)",
        "cron(0/0 * * * ? *)",
        "rate(0 minutes)",
        "rate(5 weeks)",
        "every 5 minutes",
    ],
)
def test_bad_schedule_expressions_are_refused(expression: str) -> None:
    with pytest.raises(ValueError):
        parse_schedule(expression, anchor=MONDAY_NOON)


def test_chalice_rate_and_cron_objects_are_understood() -> None:
    rate = parse_schedule(Rate(2, unit=Rate.HOURS), anchor=MONDAY_NOON)
    assert isinstance(rate, RateSchedule)
    assert rate.next_after(MONDAY_NOON) == MONDAY_NOON + timedelta(hours=2)
    assert rate.next_after(MONDAY_NOON + timedelta(hours=3)) == MONDAY_NOON + timedelta(hours=4)
    cron = parse_schedule(Cron(0, 3, "*", "*", "?", "*"), anchor=MONDAY_NOON)
    assert cron.next_after(MONDAY_NOON) == datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    assert parse_schedule("rate(1 day)", anchor=MONDAY_NOON).next_after(MONDAY_NOON) == MONDAY_NOON + timedelta(days=1)


# --- HTTP ---


def test_a_slow_request_does_not_block_others(events: EventsStack) -> None:
    url = events.stack.base_url
    slow = threading.Thread(target=http, args=("GET", url + "/slow"))
    slow.start()
    try:
        assert events.seen.slow_started.wait(10)
        assert http("GET", url + "/fast").body == {"fast": True}
    finally:
        events.seen.release_slow.set()
        slow.join(10)


def test_gateway_errors_use_the_one_error_shape(events: EventsStack) -> None:
    reply = http("GET", events.stack.base_url + "/no/such/route")
    assert reply.status == 404
    assert reply.body == {"status_code": 404, "detail": "Not found."}


def test_gateway_error_mapping() -> None:
    status, headers, body = gateway_error(401, {"x-amzn-RequestId": "r1", "x-amzn-ErrorType": "UnauthorizedException"})
    assert (status, json.loads(body)) == (401, {"status_code": 401, "detail": "Missing or invalid API key."})
    assert headers["WWW-Authenticate"] == "Bearer" and headers["x-amzn-RequestId"] == "r1"
    assert gateway_error(403, {"x-amzn-ErrorType": "AccessDeniedException"})[0] == 403
    assert gateway_error(403, {"x-amzn-ErrorType": "UnauthorizedException"})[0] == 404
    assert gateway_error(500, {})[0] == 500
    for response_type, (status, detail) in GATEWAY_RESPONSES.items():
        assert json.loads(gateway_template(response_type)) == {"status_code": status, "detail": detail}


# --- the real entry point: python -m chalicelib.local ---


def test_python_m_chalicelib_local_serves_the_api_and_stops_cleanly_on_sigterm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("VALHALLA_ALLOW_PRIVATE_WEBHOOK_TARGETS", raising=False)
    stack = StackProcess(admin_token=ADMIN_TOKEN)
    try:
        stack.start()
        first_line = stack.output[0]
        assert f"listening on {stack.base_url} " in first_line
        assert "Authorization: Bearer" in first_line
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", stack.base_url)
        url = stack.base_url

        assert http("GET", url + "/system/health").status == 200
        denied = http("GET", url + "/system/maintenance/state")
        assert denied.status == 401
        assert denied.body == {"status_code": 401, "detail": "Missing or invalid API key."}
        assert http("GET", url + "/system/maintenance/state", token=ADMIN_TOKEN).body["mode"] == "normal"

        changed = http("POST", url + "/system/maintenance/state", {"mode": "read_only"}, token=ADMIN_TOKEN)
        assert changed.status == 200
        blocked = http("POST", url + "/system/keys", {"name": "blocked", "role": "viewer"}, token=ADMIN_TOKEN)
        assert blocked.status == 503 and blocked.body == READ_ONLY_BODY
        assert int(blocked.headers["retry-after"]) > 0

        assert http("POST", url + "/system/maintenance/state", {"mode": "normal"}, token=ADMIN_TOKEN).status == 200
        created = http("POST", url + "/system/keys", {"name": "after", "role": "viewer"}, token=ADMIN_TOKEN)
        assert created.status == 201
    finally:
        code = stack.stop()

    assert code == 0
    output = "".join(stack.output)
    assert "VALHALLA_ALLOW_PRIVATE_WEBHOOK_TARGETS=true" in stack.output[1]
    assert "Stopped." in output
