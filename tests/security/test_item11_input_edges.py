"""Item 11: input at the edges of its type answers 422 and writes nothing."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.clock import isoformat, utcnow
from tests.notify_support import create_channel
from tests.support import Api


def test_item11_audit_export_end_date_at_the_end_of_time_is_422(api: Api) -> None:
    for filters in (
        {"start_date": "2024-01-01", "end_date": "9999-12-31"},
        {"start_date": "2024-01-01", "end_date": "9999-12-31T23:59:59.9999Z"},
        {"before_date": "9999-12-31"},
    ):
        reply = api.post("/system/exports", {"job_type": "audit_log_export", "filter_params": filters})
        assert reply.status == 422, (filters, reply.json)
    assert api.get("/system/exports").json["items"] == []


def test_item11_a_number_too_large_for_a_float_is_422_not_null(api: Api) -> None:
    channel = create_channel(api)
    raw = b'{"channel_id": %d, "subject": "s", "body": "b", "payload": {"n": 1e400}}' % channel["id"]

    reply = api.post("/system/notify", raw=raw)

    assert reply.status == 422, reply.json
    assert reply.json["detail"][0]["loc"] == ["body", "payload", "n"]
    assert api.get("/system/notify").json["items"] == []


def test_item11_control_characters_in_the_maintenance_reason_are_422(api: Api) -> None:
    for reason in ("line\x1b[31mred", "bell\x07", "nul\x00"):
        reply = api.post("/system/maintenance/state", {"mode": "read_only", "reason": reason})
        assert reply.status == 422, (reason, reply.json)
        assert reply.json["detail"][0]["loc"][:2] == ["body", "reason"]
    assert api.get("/system/maintenance/state").json["mode"] == "normal"


def test_item11_an_ends_at_in_the_past_is_422(api: Api) -> None:
    past = isoformat(utcnow() - timedelta(minutes=1))

    reply = api.post("/system/maintenance/state", {"mode": "maintenance", "reason": "r", "ends_at": past})

    assert reply.status == 422, reply.json
    assert reply.json["detail"][0]["loc"] == ["body", "ends_at"]
    assert api.get("/system/maintenance/state").json["mode"] == "normal"
    future = isoformat(utcnow() + timedelta(hours=1))
    accepted = api.post("/system/maintenance/state", {"mode": "maintenance", "reason": "r", "ends_at": future})
    assert accepted.status == 200 and accepted.json["mode"] == "maintenance"
    assert api.post("/system/maintenance/state", {"mode": "normal"}).status == 200
