"""DynamoDB throttling on each write a request makes: the client hears the truth, nothing is half-written.

For every DynamoDB write a write route makes, the same request is sent again with
that one write throttled on every attempt:

- a write that is part of the change itself (or comes before it) gives 503 with
  ``Retry-After`` and leaves every table, queue and the bucket as they were;
- the audit event is written after the change: if that write is throttled the
  change has happened, so the request reports success, and the event is kept in
  the structured log (``audit_fallback``) rather than lost.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib.deps import reset_deps
from chalicelib.store.audit import AUDIT_DAYS_KEY
from tests.reliability.faults import Call, Faults, snapshot
from tests.support import Api, Reply

_names = itertools.count()


@dataclass(frozen=True)
class WritePath:
    name: str
    send: Callable[[Api, Any], Reply]
    ok: int
    prepare: Callable[[Api], Any] = lambda api: None


def _create_key(api: Api, _: Any = None) -> Reply:
    return api.post("/system/keys", {"name": f"throttled-{next(_names)}", "role": "viewer"})


def _key_to_revoke(api: Api) -> int:
    return int(api.post("/system/keys", {"name": f"to-revoke-{next(_names)}", "role": "viewer"}).json["id"])


def _revoke_key(api: Api, key_id: int) -> Reply:
    return api.delete(f"/system/keys/{key_id}")


def _set_maintenance(api: Api, _: Any) -> Reply:
    return api.post("/system/maintenance/state", {"mode": "read_only", "reason": f"r{next(_names)}"})


WRITE_PATHS = [
    WritePath("keys create", _create_key, 201),
    WritePath("keys revoke", _revoke_key, 200, _key_to_revoke),
    WritePath("maintenance set", _set_maintenance, 200),
]


def signature(call: Call) -> tuple[str, str, str]:
    # Which counter item matters (an id block or the audit's day list); other keys vary per run.
    key = call.params.get("Key") if (call.table or "").endswith("-counters") else None
    return call.operation, call.table or "", json.dumps(key, sort_keys=True) if key else ""


def is_audit(sig: tuple[str, str, str]) -> bool:
    _operation, table, key = sig
    return table.endswith("-audit-log") or AUDIT_DAYS_KEY in key


def _state(api: Api) -> dict[str, Any]:
    keys = api.get("/system/keys?limit=100").json["items"]
    mode = api.get("/system/maintenance/state").json
    audit = api.get("/system/audit?limit=100").json["items"]
    return {
        "store": snapshot(),
        "keys": sorted((key["name"], key["revoked_at"]) for key in keys),
        "mode": (mode["mode"], mode["reason"]),
        "audit": len(audit),
    }


@pytest.mark.parametrize("path", WRITE_PATHS, ids=lambda path: path.name)
def test_throttling_any_write_of_a_request(
    api: Api, faults: Faults, path: WritePath, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN the writes a successful request makes from a fresh container
    reset_deps()
    context = path.prepare(api)
    faults.calls.clear()
    assert path.send(api, context).status == path.ok
    writes = list(dict.fromkeys(signature(call) for call in faults.writes()))
    assert any(is_audit(sig) for sig in writes) and any(not is_audit(sig) for sig in writes), writes
    for sig in writes:
        # WHEN that one write is throttled on every attempt
        reset_deps()
        context = path.prepare(api)
        before = _state(api)
        caplog.clear()
        faults.fail("dynamodb", sig[0], when=lambda _s, op, params, sig=sig: _matches(op, params, sig))
        reply = path.send(api, context)
        fired = faults.rules[-1].fired
        faults.clear()
        after = _state(api)
        assert fired, sig
        if is_audit(sig):
            # THEN the change happened and says so; the audit event went to the log
            assert reply.status == path.ok, (sig, reply.json)
            assert after["audit"] == before["audit"]
            kept = [getattr(r, "audit_fallback", None) for r in caplog.records if hasattr(r, "audit_fallback")]
            assert kept and kept[0]["actor"] == "test-admin" and kept[0]["action"], sig
        else:
            # THEN 503 with Retry-After, and nothing was written
            assert reply.status == 503, (sig, reply.json)
            assert reply.json["status_code"] == 503 and reply.json["detail"]
            assert int(reply.headers["retry-after"]) >= 1
            assert after == before, sig


def _matches(operation: str, params: dict[str, Any], sig: tuple[str, str, str]) -> bool:
    from tests.reliability.faults import Call as RecordedCall

    return signature(RecordedCall("dynamodb", operation, params)) == sig


def test_a_throttled_write_succeeds_when_retried(api: Api, faults: Faults) -> None:
    faults.fail("dynamodb", "PutItem", times=1)
    assert _create_key(api).status == 503
    assert _create_key(api).status == 201
