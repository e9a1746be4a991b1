"""The notifications list over write-sharded indexes, through HTTP: every filter, newest
first, each item exactly once across pages of merged shards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.clock import isoformat
from chalicelib.store.counters import TimeOrderedIds
from chalicelib.store.notifications import ContentItem, OutboxItem
from chalicelib.store.outbox import channel_key, status_key
from tests.support import Api

T0 = datetime(2026, 3, 1, tzinfo=UTC)
COUNT = 300  # thousands: tests/unit/test_shard_merge.py (in memory, the same merge)
STATUSES = ("pending", "sent", "failed")


@pytest.fixture(autouse=True)
def _eight_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALHALLA_WRITE_SHARDS", "8")


def _seed(channel_ids: list[int]) -> list[dict[str, object]]:
    """COUNT notifications, several per instant, written as enqueue writes them (batched here for speed)."""
    ids = TimeOrderedIds(slot=lambda: 3)
    rows = []
    with OutboxItem.batch_write() as states, ContentItem.batch_write() as contents:
        for number in range(COUNT):
            notification_id = ids.next_id()
            stamp = isoformat(T0 + timedelta(milliseconds=number // 3))
            status = STATUSES[number % 3 if number % 7 else 1]
            channel_id = channel_ids[number % len(channel_ids)]
            states.save(
                OutboxItem(
                    notification_id,
                    status=status,
                    status_key=status_key(status, notification_id),
                    created_at=stamp,
                    updated_at=stamp,
                    channel_id=channel_id,
                    channel_key=channel_key(channel_id, notification_id),
                    channel_type="email",
                    attempts=0,
                    cycle_attempts=0,
                )
            )
            contents.save(ContentItem(notification_id, subject=f"s{number}", body="b"))
            rows.append({"id": notification_id, "created_at": stamp, "status": status, "channel_id": channel_id})
    return rows


def _read_all(api: Api, query: str, limit: int) -> list[dict[str, object]]:
    seen: list[dict[str, object]] = []
    cursor = None
    while True:
        page = api.get(f"/system/notify/?{query}&limit={limit}" + (f"&cursor={cursor}" if cursor else ""))
        assert page.status == 200, page.json
        assert len(page.json["items"]) <= limit
        seen += page.json["items"]
        cursor = page.json["next_cursor"]
        if not cursor:
            return seen


def _newest_first(rows: list[dict[str, object]]) -> list[object]:
    return [row["id"] for row in sorted(rows, key=lambda row: (row["created_at"], row["id"]), reverse=True)]


def test_every_filter_pages_through_thousands_of_items_in_order(api: Api) -> None:
    channels = [
        api.post(
            "/system/notify/channels", {"name": f"c{n}", "channel_type": "email", "target": f"c{n}@example.com"}
        ).json["id"]
        for n in range(2)
    ]
    rows = _seed(channels)

    everything = _read_all(api, "x=1", 40)
    assert [item["id"] for item in everything] == _newest_first(rows)
    assert everything[0]["subject"] and everything[0]["body"] == "b"

    sent = _read_all(api, "status=sent", 30)
    assert [item["id"] for item in sent] == _newest_first([row for row in rows if row["status"] == "sent"])

    mine = _read_all(api, f"channel_id={channels[1]}", 50)
    assert [item["id"] for item in mine] == _newest_first([row for row in rows if row["channel_id"] == channels[1]])

    both = _read_all(api, f"channel_id={channels[0]}&status=failed", 9)
    expected = [row for row in rows if row["channel_id"] == channels[0] and row["status"] == "failed"]
    assert [item["id"] for item in both] == _newest_first(expected)


def test_a_cursor_of_one_filter_is_refused_by_another(api: Api) -> None:
    channel = api.post(
        "/system/notify/channels", {"name": "c", "channel_type": "email", "target": "c@example.com"}
    ).json["id"]
    for number in range(3):
        assert api.post("/system/notify/", {"channel_id": channel, "subject": f"s{number}", "body": "b"}).status == 201
    cursor = api.get("/system/notify/?status=pending&limit=1").json["next_cursor"]
    assert cursor
    assert api.get(f"/system/notify/?status=sent&cursor={cursor}").status == 422
    assert api.get(f"/system/notify/?status=pending&limit=1&cursor={cursor}").status == 200
