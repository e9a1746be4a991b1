"""The layout migration, against items written the old way: idempotent, resumable, nothing lost."""

from __future__ import annotations

import json

from chalicelib import aws
from chalicelib.settings import get_settings
from chalicelib.store.migrate import migrate
from tests.support import Api

OLD_NOTIFICATIONS = 40
OLD_EVENTS = 30


def _history(count: int) -> dict[str, object]:
    return {
        "L": [
            {
                "M": {
                    "number": {"N": str(n)},
                    "at": {"S": f"2025-05-01T00:00:{n:02d}.000Z"},
                    "outcome": {"S": "retry"},
                    "duration_ms": {"N": "3.5"},
                    "error": {"S": f"try {n}"},
                }
            }
            for n in range(1, count + 1)
        ]
    }


def _write_old_layout(channel_id: int) -> None:
    """Items exactly as the old layout stored them: content and full history in the outbox item,
    ``kind``/``queue_state`` for the old indexes, audit events under the bare day."""
    client = aws.client("dynamodb")
    settings = get_settings()
    for number in range(1, OLD_NOTIFICATIONS + 1):
        status = ("sent", "failed", "pending")[number % 3]
        stamp = f"2025-05-01T00:{number // 60:02d}:{number % 60:02d}.000Z"
        item = {
            "id": {"N": str(number)},
            "kind": {"S": "notification"},
            "status": {"S": status},
            "created_at": {"S": stamp},
            "updated_at": {"S": stamp},
            "channel_id": {"N": str(channel_id)},
            "channel_type": {"S": "email"},
            "subject": {"S": f"old subject {number}"},
            "body": {"S": f"old body {number}"},
            "payload": {"S": json.dumps({"n": number})},
            "attempts": {"N": "12" if status == "failed" else "0"},
            "cycle_attempts": {"N": "0"},
            "history": _history(12 if status == "failed" else 0),
        }
        if status == "pending":
            item.update(queue_state={"S": "pending"}, due_at={"S": stamp})
        client.put_item(TableName=settings.table("notification_outbox"), Item=item)
    for number in range(OLD_EVENTS):
        stamp = f"2025-05-0{1 + number % 3}T10:00:{number:02d}.000Z"
        client.put_item(
            TableName=settings.table("audit_log"),
            Item={
                "day": {"S": stamp[:10]},
                "sk": {"S": f"{stamp}#old{number:04d}"},
                "event_id": {"S": f"old{number:04d}"},
                "at": {"S": stamp},
                "actor": {"S": "old-admin"},
                "role": {"S": "admin"},
                "action": {"S": "old.thing"},
                "resource_type": {"S": "thing"},
            },
        )
    client.update_item(
        TableName=settings.table("counters"),
        Key={"name": {"S": "audit-days"}},
        UpdateExpression="ADD days :d",
        ExpressionAttributeValues={":d": {"SS": ["2025-05-01", "2025-05-02", "2025-05-03"]}},
    )


def _all(api: Api, path: str) -> list[dict[str, object]]:
    seen: list[dict[str, object]] = []
    cursor = None
    while True:
        separator = "&" if "?" in path else "?"
        page = api.get(f"{path}{separator}limit=100" + (f"&cursor={cursor}" if cursor else "")).json
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return seen


def test_an_interrupted_migration_resumes_and_a_repeated_one_changes_nothing(api: Api) -> None:
    channel = api.post(
        "/system/notify/channels", {"name": "old", "channel_type": "email", "target": "old@example.com"}
    ).json["id"]
    _write_old_layout(channel)
    assert [item["id"] for item in _all(api, "/system/notify/")] == []  # not visible before

    first = migrate(page_size=7, max_pages=3)
    assert not first.done and 0 < first.outbox_migrated < OLD_NOTIFICATIONS
    rest = migrate(page_size=7)
    assert rest.done
    assert first.outbox_migrated + rest.outbox_migrated == OLD_NOTIFICATIONS
    assert first.audit_migrated + rest.audit_migrated == OLD_EVENTS

    listed = _all(api, "/system/notify/")
    assert [item["id"] for item in listed] == list(range(OLD_NOTIFICATIONS, 0, -1))
    assert listed[-1]["subject"] == "old subject 1" and listed[-1]["payload"] == {"n": 1}
    failed_ids = [n for n in range(OLD_NOTIFICATIONS, 0, -1) if n % 3 == 1]
    assert [item["id"] for item in _all(api, "/system/notify/?status=failed")] == failed_ids
    pending_ids = [n for n in range(OLD_NOTIFICATIONS, 0, -1) if n % 3 == 2]
    assert [item["id"] for item in _all(api, f"/system/notify/?channel_id={channel}&status=pending")] == pending_ids

    failed = api.get("/system/notify/1").json
    assert failed["status"] == "failed" and failed["attempts"] == 12
    assert [entry["number"] for entry in failed["history"]] == list(range(3, 13))  # the latest ten

    events = _all(api, "/system/audit?actor=old-admin&start=2025-05-01T00:00:00Z")
    assert len(events) == OLD_EVENTS
    assert len(_all(api, "/system/audit?start=2025-05-01T00:00:00Z&end=2025-05-04T00:00:00Z")) >= OLD_EVENTS

    again = migrate(page_size=7)
    assert again.done and again.outbox_migrated == 0 and again.audit_migrated == 0
    from chalicelib.store import migrate as module

    client = aws.client("dynamodb")
    client.delete_item(TableName=get_settings().table("counters"), Key={"name": {"S": module.CHECKPOINT_KEY}})
    from_scratch = migrate(page_size=50)
    assert from_scratch.done and from_scratch.outbox_migrated == 0 and from_scratch.audit_migrated == 0
    assert [item["id"] for item in _all(api, "/system/notify/")] == list(range(OLD_NOTIFICATIONS, 0, -1))


def _old_channel_row(client: object, channel: int, day: str, sent: int, kind: str) -> None:
    """A day row of one channel as the layout before channel groups wrote it."""
    client.put_item(  # type: ignore[attr-defined]
        TableName=get_settings().table("stats"),
        Item={
            "pk": {"S": f"dlv#d#{channel}#{day[:4]}#0"},
            "sk": {"S": f"{day}T00:00Z"},
            "kind": {"S": kind},
            "ends": {"S": f"{day}T23:59:59.999Z"},
            "sent": {"N": str(sent)},
            "attempts": {"N": str(sent + 1)},
            "failed": {"N": "1"},
            "h2": {"N": str(sent)},
        },
    )


def test_old_per_channel_stats_rows_move_into_group_rows_once(api: Api) -> None:
    client = aws.client("dynamodb")
    days = [f"2026-11-{day:02d}" for day in range(1, 21)]
    channels = (3, 11, 12)  # 3 and 11 share a group row
    for number, day in enumerate(days):
        for channel in channels:
            _old_channel_row(client, channel, day, sent=channel + number, kind=f"stats#{number % 4:02d}")
    # A delivery after the new code was deployed: the group row exists already when the migration reaches it.
    from chalicelib.clock import parse_iso
    from chalicelib.services.notifications import DeliveryReport
    from chalicelib.services.stats import StatsRecorder
    from chalicelib.store.stats import default_stats_table

    recorder = StatsRecorder(default_stats_table(), lambda: parse_iso("2026-11-01T10:00:00Z"), shards=1)
    recorder.record_deliveries([DeliveryReport(1, "sent", channel_id=11, latency_ms=5.0)])

    def sent(channel: int) -> int:
        window = "since=2026-11-01T00:00:00Z&until=2026-11-21T00:00:00Z"
        reply = api.get(f"/system/stats/deliveries?granularity=day&channel_id={channel}&{window}")
        assert reply.status == 200, reply.json
        return int(reply.json["totals"]["sent"])

    expected = {channel: sum(channel + number for number in range(len(days))) for channel in channels}
    assert sent(11) == 1  # before the migration only the new row is read

    first = migrate(page_size=9, max_pages=12)
    rest = migrate(page_size=9)
    assert rest.done and first.stats_migrated + rest.stats_migrated == len(days) * len(channels)
    assert {channel: sent(channel) for channel in channels} == {**expected, 11: expected[11] + 1}
    day_one = api.get(
        "/system/stats/deliveries?granularity=day&channel_id=3&since=2026-11-01T00:00:00Z&until=2026-11-02T00:00:00Z"
    )
    assert day_one.json["totals"]["failed"] == 1 and day_one.json["totals"]["attempts"] == 4
    old_keys = [
        row
        for row in client.scan(TableName=get_settings().table("stats"))["Items"]
        if row["pk"]["S"].split("#")[2].isdigit()
    ]
    assert old_keys == []

    from chalicelib.store import migrate as module

    client.delete_item(TableName=get_settings().table("counters"), Key={"name": {"S": module.CHECKPOINT_KEY}})
    again = migrate(page_size=50)
    assert again.done and again.stats_migrated == 0
    assert {channel: sent(channel) for channel in channels} == {**expected, 11: expected[11] + 1}
