"""Replays over HTTP (Chalice test client, moto): bulk re-queue of failed notifications, copies, dry runs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import aws
from chalicelib.domain.common import Role
from chalicelib.resources import queue_url
from chalicelib.workers import replays as replay_worker
from tests.notify_support import create_channel, enqueue, pump_until_idle
from tests.support import Api
from tests.webhook_receiver import Response, WebhookReceiver


@pytest.fixture
def private_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALHALLA_ALLOW_PRIVATE_WEBHOOK_TARGETS", "true")


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


def run_replay_worker() -> int:
    """One invocation of the replay worker per message on its queue, as Lambda would."""
    sqs = aws.client("sqs")
    url = queue_url("replays")
    handled = 0
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages", []):
        message = messages[0]
        record = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:replays",
            "awsRegion": "us-east-1",
            "md5OfBody": "",
        }
        result = replay_worker.handle({"Records": [record]})
        assert result["batchItemFailures"] == []
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        handled += 1
    return handled


def window(**extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "since": (now - timedelta(hours=1)).isoformat(),
        "until": (now + timedelta(minutes=5)).isoformat(),
        **extra,
    }


def failed_notifications(api: Api, receiver: WebhookReceiver, count: int) -> tuple[int, list[int]]:
    receiver.default = Response(400, body=b"rejected")  # permanent: failed at the first attempt
    channel = create_channel(api, name="hook", channel_type="webhook", target=receiver.url())
    ids = [enqueue(api, channel["id"], subject=f"n{i}")["id"] for i in range(count)]
    pump_until_idle()
    assert {api.get(f"/system/notify/{i}").json["status"] for i in ids} == {"failed"}
    return int(channel["id"]), ids


def test_failed_notifications_replayed_after_fixing_the_receiver_are_all_sent(
    private_targets: None, api: Api, receiver: WebhookReceiver
) -> None:
    channel, ids = failed_notifications(api, receiver, 3)
    receiver.default = Response(200)
    created = api.post("/system/notify/replays", window(channel_id=channel, status=["failed"]))
    assert created.status == 202, created.json
    assert created.json["status"] == "pending" and created.json["matched"] == 0 and created.json["dry_run"] is False

    assert run_replay_worker() == 1
    done = api.get(f"/system/notify/replays/{created.json['id']}").json
    assert (done["status"], done["matched"], done["replayed"], done["skipped"]) == ("completed", 3, 3, 0)
    assert done["started_at"] and done["completed_at"]

    pump_until_idle()
    details = [api.get(f"/system/notify/{i}").json for i in ids]
    assert {detail["status"] for detail in details} == {"sent"}
    assert {detail["attempts"] for detail in details} == {2}  # the attempt count keeps counting
    assert len(receiver.requests) == 6

    again = api.post("/system/notify/replays", window(channel_id=channel))
    run_replay_worker()
    assert api.get(f"/system/notify/replays/{again.json['id']}").json["matched"] == 0  # nothing failed any more


def test_a_dry_run_counts_the_matches_and_changes_nothing(
    private_targets: None, api: Api, receiver: WebhookReceiver
) -> None:
    _, ids = failed_notifications(api, receiver, 4)
    created = api.post("/system/notify/replays", window(dry_run=True, max=3))
    run_replay_worker()
    done = api.get(f"/system/notify/replays/{created.json['id']}").json
    assert (done["status"], done["matched"], done["replayed"], done["dry_run"]) == ("completed", 3, 0, True)
    assert {api.get(f"/system/notify/{i}").json["status"] for i in ids} == {"failed"}


def test_to_channel_id_copies_the_matches_to_another_channel(
    private_targets: None, api: Api, receiver: WebhookReceiver
) -> None:
    channel, ids = failed_notifications(api, receiver, 2)
    spare = create_channel(api, name="spare", channel_type="email", target="spare@example.com")
    created = api.post("/system/notify/replays", window(channel_id=channel, to_channel_id=spare["id"]))
    run_replay_worker()
    assert api.get(f"/system/notify/replays/{created.json['id']}").json["replayed"] == 2
    copies = api.get(f"/system/notify?channel_id={spare['id']}").json["items"]
    assert sorted(copy["subject"] for copy in copies) == ["n0", "n1"]
    assert {copy["status"] for copy in copies} == {"pending"}
    assert {api.get(f"/system/notify/{i}").json["status"] for i in ids} == {"failed"}  # originals untouched


def test_a_cancelled_replay_replays_nothing_and_cannot_be_cancelled_twice(
    private_targets: None, api: Api, receiver: WebhookReceiver
) -> None:
    _, ids = failed_notifications(api, receiver, 2)
    created = api.post("/system/notify/replays", window())
    path = f"/system/notify/replays/{created.json['id']}"
    cancelled = api.post(f"{path}/cancel")
    assert cancelled.status == 200 and cancelled.json["status"] == "cancelled"
    run_replay_worker()
    assert api.get(path).json["replayed"] == 0
    assert {api.get(f"/system/notify/{i}").json["status"] for i in ids} == {"failed"}
    again = api.post(f"{path}/cancel")
    assert again.status == 409 and again.json["status_code"] == 409
    listed = api.get("/system/notify/replays").json
    assert [item["id"] for item in listed["items"]] == [created.json["id"]] and listed["next_cursor"] is None


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"until": (datetime.now(UTC) + timedelta(days=15)).isoformat()}, ["body"]),
        ({"max": 10_001}, ["body", "max"]),
        ({"status": ["sent"]}, ["body"]),
        ({"status": ["pending"]}, ["body"]),
        ({"since": "yesterday"}, ["body", "since"]),
        ({"dry_run": "maybe"}, ["body", "dry_run"]),
    ],
)
def test_bad_replay_requests_are_refused_and_nothing_is_written(
    api: Api, change: dict[str, Any], where: list[str]
) -> None:
    reply = api.post("/system/notify/replays", window(**change))
    assert reply.status == 422, reply.json
    assert reply.json["detail"][0]["loc"][: len(where)] == where
    assert api.get("/system/notify/replays").json["items"] == []


def test_replays_need_an_operator_and_known_channels(api: Api, tokens: dict[Role, str]) -> None:
    assert api.as_(tokens[Role.viewer]).post("/system/notify/replays", window()).status == 403
    assert api.as_(tokens[Role.viewer]).get("/system/notify/replays").status == 200
    assert api.post("/system/notify/replays", window(channel_id=424242)).status == 404
    assert api.get("/system/notify/replays/424242").status == 404
    assert api.get("/system/notify/replays").json["items"] == []
