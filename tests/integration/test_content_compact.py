"""A notification's body is stored compressed when that is smaller: a 1 KB text body keeps
its content item within one 1 KB write unit, and every reader gets the text back as sent."""

from __future__ import annotations

import random
import string

from chalicelib import aws
from chalicelib.store.notifications import ContentItem
from tests.notify_support import create_channel, enqueue, pump_until_idle
from tests.support import Api


def _raw(notification_id: int) -> dict[str, dict[str, object]]:
    table = ContentItem.Meta.table_name
    return dict(aws.client("dynamodb").get_item(TableName=table, Key={"id": {"N": str(notification_id)}})["Item"])


def _size(item: dict[str, dict[str, object]]) -> int:
    """DynamoDB's item size: attribute names plus values (numbers counted generously)."""
    total = 0
    for name, typed in item.items():
        ((kind, value),) = typed.items()
        total += len(name) + (len(value) if kind in ("S", "B") else 21)  # type: ignore[arg-type]
    return total


def test_a_1kb_text_body_is_stored_in_under_1kb_and_read_back_exactly(api: Api) -> None:
    channel = create_channel(api)
    rand = random.Random(7)
    # Not a repeated letter: random letters, digits and spaces compress the least of plain text.
    body = "".join(rand.choice(string.ascii_letters + string.digits + " ") for _ in range(1024))
    made = enqueue(api, channel["id"], subject="Capacity", body=body, payload={"k": "v"})

    item = _raw(made["id"])
    assert "B" in item["body"] and _size(item) < 1024, _size(item)
    assert api.get(f"/system/notify/{made['id']}").json["body"] == body
    pump_until_idle()
    assert api.get(f"/system/notify/{made['id']}").json["status"] == "sent"
    listed = api.get(f"/system/notify/?channel_id={channel['id']}").json["items"]
    assert [entry["body"] for entry in listed] == [body]


def test_short_and_non_ascii_bodies_round_trip(api: Api) -> None:
    channel = create_channel(api)
    for body in ("", "ok", "héllo ✓ — 通知", "x" * 5000):
        made = enqueue(api, channel["id"], body=body)
        assert api.get(f"/system/notify/{made['id']}").json["body"] == body


def test_a_body_stored_as_a_plain_string_still_reads(api: Api) -> None:
    channel = create_channel(api)
    made = enqueue(api, channel["id"], body="will be rewritten")
    item = _raw(made["id"])
    item["body"] = {"S": "written before compression"}
    aws.client("dynamodb").put_item(TableName=ContentItem.Meta.table_name, Item=item)
    assert api.get(f"/system/notify/{made['id']}").json["body"] == "written before compression"
    pump_until_idle()
    assert api.get(f"/system/notify/{made['id']}").json["status"] == "sent"
