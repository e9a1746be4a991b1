"""Event subscriptions through the API (Chalice test client, moto): validation, CRUD, the
filter tester, fan-out into the outbox, the event log and resends, the shield."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.common import Role
from tests.notify_support import create_channel
from tests.support import Api

SUBS = "/system/events/subscriptions"


def subscribe(api: Api, channel_ids: list[int], **fields: Any) -> dict[str, Any]:
    body = {"name": "ops", "channel_ids": channel_ids, "event_types": ["key.*"], **fields}
    reply = api.post(SUBS, body)
    assert reply.status == 201, reply.json
    return dict(reply.json)


def events(api: Api, query: str = "") -> list[dict[str, Any]]:
    reply = api.get("/system/events" + query)
    assert reply.status == 200, reply.json
    return list(reply.json["items"])


def make_key(api: Api, name: str = "ci") -> dict[str, Any]:
    reply = api.post("/system/keys", {"name": name, "role": "viewer"})
    assert reply.status == 201, reply.json
    return dict(reply.json)


def test_every_event_type_is_listed_with_the_schema_of_its_data(api: Api, tokens: dict[Role, str]) -> None:
    reply = api.as_(tokens[Role.viewer]).get("/system/events/types")
    assert reply.status == 200
    by_type = {item["type"]: item for item in reply.json["items"]}
    assert {"export.completed", "maintenance.changed", "channel.disabled", "key.revoked"} <= set(by_type)
    assert "row_count" in by_type["export.completed"]["schema"]["properties"]
    assert by_type["maintenance.changed"]["description"]


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"event_types": ["export.done"]}, ["body", "event_types"]),
        ({"event_types": ["nothing.*"]}, ["body", "event_types"]),
        ({"event_types": []}, ["body", "event_types"]),
        ({"channel_ids": []}, ["body", "channel_ids"]),
        ({"channel_ids": list(range(1, 12))}, ["body", "channel_ids"]),
        ({"channel_ids": [999]}, ["body", "channel_ids", 0]),
        ({"filter": {"data.row_count": {"$regex": "x"}}}, ["body", "filter", "data.row_count", "$regex"]),
        ({"filter": {"$or": []}}, ["body", "filter", "$or"]),
        ({"name": ""}, ["body", "name"]),
        ({"colour": "red"}, ["body", "colour"]),
    ],
)
def test_a_bad_subscription_is_refused_with_422_and_nothing_is_written(
    api: Api, change: dict[str, Any], loc: list[Any]
) -> None:
    channel = create_channel(api)
    body = {"name": "ops", "channel_ids": [channel["id"]], "event_types": ["export.*"], **change}
    reply = api.post(SUBS, body)
    assert reply.status == 422, reply.json
    assert reply.json["status_code"] == 422
    assert any(issue["loc"][: len(loc)] == loc for issue in reply.json["detail"]), reply.json
    assert api.get(SUBS).json["items"] == []


def test_subscription_names_are_unique_and_only_admins_write(api: Api, tokens: dict[Role, str]) -> None:
    channel = create_channel(api)
    subscribe(api, [channel["id"]])
    again = api.post(SUBS, {"name": "OPS", "channel_ids": [channel["id"]], "event_types": ["*"]})
    assert again.status == 409 and again.json["status_code"] == 409
    operator = api.as_(tokens[Role.operator])
    assert operator.post(SUBS, {"name": "x", "channel_ids": [channel["id"]], "event_types": ["*"]}).status == 403
    assert operator.get(SUBS).status == 200


def test_subscriptions_are_read_changed_listed_and_deleted(api: Api) -> None:
    first, second = create_channel(api, name="a"), create_channel(api, name="b")
    created = subscribe(api, [first["id"], first["id"]], filter={"data.role": "admin"})
    assert created["channel_ids"] == [first["id"]] and created["enabled"] is True
    identifier = created["id"]
    assert api.get(f"{SUBS}/{identifier}").json == created

    changed = api.patch(f"{SUBS}/{identifier}", {"channel_ids": [second["id"]], "filter": None, "enabled": False})
    assert changed.status == 200, changed.json
    assert changed.json["channel_ids"] == [second["id"]] and changed.json["filter"] is None
    assert changed.json["enabled"] is False
    assert api.patch(f"{SUBS}/{identifier}", {}).status == 422
    assert api.patch(f"{SUBS}/{identifier}", {"filter": {"$nope": 1}}).json["detail"][0]["loc"] == [
        "body",
        "filter",
        "$nope",
    ]

    for number in range(3):
        subscribe(api, [first["id"]], name=f"more-{number}")
    page = api.get(f"{SUBS}?limit=2").json
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = api.get(f"{SUBS}?limit=2&cursor={page['next_cursor']}").json
    assert len({item["id"] for item in page["items"] + rest["items"]}) == 4

    assert api.delete(f"{SUBS}/{identifier}").status == 200
    assert api.get(f"{SUBS}/{identifier}").status == 404
    assert api.delete(f"{SUBS}/{identifier}").status == 404
    subscribe(api, [first["id"]])  # the name is free again


def test_the_filter_tester_says_whether_an_envelope_matches(api: Api, tokens: dict[Role, str]) -> None:
    viewer = api.as_(tokens[Role.viewer])
    event = {"id": "evt_1", "type": "export.completed", "data": {"row_count": 0}}
    filter_ = {"data.row_count": {"$gte": 1}}
    assert viewer.post("/system/events/filters/test", {"filter": filter_, "event": event}).json == {"matches": False}
    event["data"] = {"row_count": 5}
    assert viewer.post("/system/events/filters/test", {"filter": filter_, "event": event}).json == {"matches": True}
    bad = viewer.post("/system/events/filters/test", {"filter": {"$and": [{"x": {"$gt": []}}]}, "event": event})
    assert bad.status == 422
    assert bad.json["detail"][0]["loc"] == ["body", "filter", "$and", 0, "x", "$gt"]


def test_an_event_fans_out_to_each_subscribed_channel_once_and_is_logged(api: Api) -> None:
    email, sms = create_channel(api), create_channel(api, name="pager", channel_type="sms", target="+14155550100")
    other = create_channel(api, name="other", target="other@example.com")
    subscribe(api, [email["id"], sms["id"]])
    subscribe(api, [other["id"]], name="admins-only", filter={"data.role": "admin"})
    subscribe(api, [other["id"]], name="exports", event_types=["export.*"])

    key = make_key(api, "ci-reader")

    (event,) = events(api, "?type=key.created")
    assert event["type"] == "key.created" and event["id"].startswith("evt_") and event["fanout"] == "done"
    assert event["data"]["key_id"] == key["id"] and event["data"]["who"] == "test-admin"
    assert len(event["notification_ids"]) == 2
    notes = [api.get(f"/system/notify/{nid}").json for nid in event["notification_ids"]]
    assert sorted(note["channel_id"] for note in notes) == sorted([email["id"], sms["id"]])
    for note in notes:
        assert note["status"] == "pending"
        assert note["payload"] == {key: event[key] for key in ("id", "type", "time", "data")}
        assert note["subject"] == "[Valhalla] key.created" and "ci-reader" in note["body"]
    assert api.get(f"/system/events/{event['id']}").json == event


def test_resend_fans_out_again_to_todays_subscriptions_and_test_sends_an_example(
    api: Api, tokens: dict[Role, str]
) -> None:
    channel = create_channel(api)
    make_key(api)
    (event,) = events(api, "?type=key.created")
    assert event["notification_ids"] == []  # nobody subscribed then

    subscription = subscribe(api, [channel["id"]])
    operator = api.as_(tokens[Role.operator])
    resent = operator.post(f"/system/events/{event['id']}/resend")
    assert resent.status == 202, resent.json
    assert len(resent.json["notification_ids"]) == 1
    assert api.get(f"/system/events/{event['id']}").json["notification_ids"] == resent.json["notification_ids"]
    assert operator.post("/system/events/evt_unknown/resend").status == 404
    assert operator.post("/system/events/nope/resend").status == 422

    tested = api.post(f"{SUBS}/{subscription['id']}/test", {"event_type": "key.revoked"})
    assert tested.status == 202, tested.json
    (note_id,) = tested.json["notification_ids"]
    assert api.get(f"/system/notify/{note_id}").json["payload"]["type"] == "key.revoked"
    refused = api.post(f"{SUBS}/{subscription['id']}/test", {"event_type": "export.failed"})
    assert refused.status == 422 and refused.json["detail"][0]["loc"] == ["body", "event_type"]
    assert api.post(f"{SUBS}/999/test", {"event_type": "key.revoked"}).status == 404


def test_in_read_only_events_still_flow_but_subscription_writes_get_503(api: Api) -> None:
    channel = create_channel(api)
    subscribe(api, [channel["id"]], event_types=["maintenance.changed"])
    assert api.post("/system/maintenance/state", {"mode": "read_only", "reason": "upgrade"}).status == 200

    blocked = api.post(SUBS, {"name": "late", "channel_ids": [channel["id"]], "event_types": ["*"]})
    assert blocked.status == 503 and blocked.json["mode"] == "read_only" and blocked.headers["retry-after"]
    assert api.post("/system/events/filters/test", {"filter": {}, "event": {"type": "x"}}).status == 200

    assert api.post("/system/maintenance/state", {"mode": "maintenance"}).status == 200
    assert api.post("/system/maintenance/state", {"mode": "normal"}).status == 200
    changes = events(api, "?type=maintenance.changed")
    assert [(e["data"]["previous_mode"], e["data"]["mode"]) for e in reversed(changes)] == [
        ("normal", "read_only"),
        ("read_only", "maintenance"),
        ("maintenance", "normal"),
    ]
    assert changes[-1]["data"]["reason"] == "upgrade" and changes[-1]["data"]["who"] == "test-admin"
    assert all(len(change["notification_ids"]) == 1 for change in changes)


def test_the_event_log_pages_newest_first_across_shards_and_filters_by_type_and_time(api: Api) -> None:
    for number in range(12):
        make_key(api, f"k{number}")
    reply = api.post("/system/maintenance/state", {"mode": "normal"})
    assert reply.status == 200

    seen: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = api.get(f"/system/events?limit=5{cursor}").json
        seen += page["items"]
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert len(seen) == 13 and len({event["id"] for event in seen}) == 13
    assert [event["time"] for event in seen] == sorted((event["time"] for event in seen), reverse=True)
    assert len(events(api, "?type=key.created&limit=100")) == 12
    assert events(api, "?type=maintenance.changed")[0]["id"] == seen[0]["id"]
    middle = sorted(event["time"] for event in seen)[6]
    assert all(event["time"] >= middle for event in events(api, f"?since={middle}&limit=100"))
    assert all(event["time"] <= middle for event in events(api, f"?until={middle}&limit=100"))
    assert api.get("/system/events?type=export.done").status == 422
    assert api.get("/system/events?since=yesterday").status == 422
