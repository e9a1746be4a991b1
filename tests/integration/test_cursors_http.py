"""Every list refuses a cursor it did not issue, with the same filters, as a 422: never a 500."""

from __future__ import annotations

import base64

import pytest

from tests.support import Api

LISTS = [
    "/system/keys",
    "/system/audit",
    "/system/exports/",
    "/system/retention/",
    "/system/retention/runs",
    "/system/notify/",
    "/system/notify/channels",
]


def _first_cursor(api: Api, path: str) -> str:
    reply = api.get(path + ("&" if "?" in path else "?") + "limit=1")
    assert reply.status == 200, reply.json
    cursor = reply.json["next_cursor"]
    assert cursor, reply.json
    return str(cursor)


def _flip(cursor: str) -> str:
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[len(raw) // 2] ^= 0x04
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


def _assert_cursor_refused(api: Api, path: str) -> None:
    reply = api.get(path)
    assert reply.status == 422, (path, reply.json)
    assert reply.json["status_code"] == 422
    assert [error["loc"] for error in reply.json["detail"]] == [["query", "cursor"]]


@pytest.mark.parametrize("path", LISTS)
def test_a_crafted_cursor_is_422_on_every_list(api: Api, path: str) -> None:
    crafted = base64.urlsafe_b64encode(b'{"id":{"N":"1"},"kind":{"S":"x"}}').decode().rstrip("=")
    for cursor in (crafted, "!!!", "e30", "A" * 64):
        _assert_cursor_refused(api, f"{path}?cursor={cursor}")


def test_a_tampered_or_foreign_cursor_is_refused_and_a_genuine_one_reads_on(api: Api) -> None:
    for name in ("one", "two", "three"):
        assert api.post("/system/keys", {"name": name, "role": "viewer"}).status == 201
    cursor = _first_cursor(api, "/system/keys")
    _assert_cursor_refused(api, f"/system/keys?cursor={_flip(cursor)}")
    _assert_cursor_refused(api, f"/system/audit?cursor={cursor}")
    assert api.get(f"/system/keys?limit=1&cursor={cursor}").status == 200

    audit_cursor = _first_cursor(api, "/system/audit?action=key.create")
    _assert_cursor_refused(api, f"/system/audit?action=key.revoke&cursor={audit_cursor}")
    assert api.get(f"/system/audit?action=key.create&limit=1&cursor={audit_cursor}").status == 200


def test_the_keys_cursor_carries_no_token_hash(api: Api) -> None:
    for name in ("one", "two"):
        assert api.post("/system/keys", {"name": name, "role": "viewer"}).status == 201
    cursor = _first_cursor(api, "/system/keys")
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    assert b"token_hash" not in raw and b"api_key" not in raw and b'"N"' not in raw
