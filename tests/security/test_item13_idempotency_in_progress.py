"""Item 13: an interrupted idempotent request does not block its key for a day."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from chalicelib.clock import utcnow
from chalicelib.deps import get_deps
from chalicelib.services import outbox as outbox_service
from tests.notify_support import create_channel
from tests.support import Api, reset_all


class Killed(BaseException):
    """What a Lambda timeout looks like from inside: nothing after it runs, no handler sees it."""


def interrupt_first_enqueue(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kill the first request inside its idempotent section, where the notification is written."""
    real = outbox_service.Outbox.enqueue
    calls = {"n": 0}

    def enqueue(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise Killed()
        return real(self, *args, **kwargs)

    monkeypatch.setattr(outbox_service.Outbox, "enqueue", enqueue)


def test_item13_a_retry_runs_once_the_in_progress_record_expires(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALHALLA_IDEMPOTENCY_IN_PROGRESS_SECONDS", "30")
    reset_all()
    channel = create_channel(api)
    body = {"channel_id": channel["id"], "subject": "s", "body": "b"}
    interrupt_first_enqueue(monkeypatch)
    with pytest.raises(Killed):
        api.post("/system/notify", body, headers={"Idempotency-Key": "interrupted"})

    busy = api.post("/system/notify", body, headers={"Idempotency-Key": "interrupted"})
    assert busy.status == 409 and "in progress" in busy.json["detail"]

    later = utcnow() + timedelta(seconds=31)
    get_deps().idempotency.clock = lambda: later
    retried = api.post("/system/notify", body, headers={"Idempotency-Key": "interrupted"})
    assert retried.status == 201, retried.json
    replay = api.post("/system/notify", body, headers={"Idempotency-Key": "interrupted"})
    assert replay.status == 201 and replay.json["id"] == retried.json["id"]
    assert len(api.get("/system/notify").json["items"]) == 1


def test_item13_an_expired_record_not_yet_removed_by_ttl_frees_its_key(api: Api) -> None:
    """DynamoDB deletes expired items up to days late: past its expiry a key is new again."""
    channel = create_channel(api)
    body = {"channel_id": channel["id"], "subject": "s", "body": "b"}
    first = api.post("/system/notify", body, headers={"Idempotency-Key": "daily"})
    assert first.status == 201

    next_day = utcnow() + timedelta(seconds=get_deps().settings.idempotency_ttl_seconds + 1)
    get_deps().idempotency.clock = lambda: next_day
    second = api.post("/system/notify", body, headers={"Idempotency-Key": "daily"})

    assert second.status == 201 and second.json["id"] != first.json["id"]
