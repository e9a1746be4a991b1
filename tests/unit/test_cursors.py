"""Pagination cursors: opaque, bound to their list and filters, refused when tampered with."""

from __future__ import annotations

import base64

import pytest

from chalicelib.domain.errors import InvalidField
from chalicelib.errors import from_domain
from chalicelib.store import cursors

STATE = {"id": 41, "token_hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}


def test_a_cursor_round_trips_on_its_own_scope() -> None:
    token = cursors.seal(STATE, "api_keys")
    assert cursors.unseal(token, "api_keys") == STATE


def test_a_cursor_reveals_no_key_attribute() -> None:
    token = cursors.seal(STATE, "api_keys")
    assert token is not None
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert b"9f86d0" not in raw and b"token_hash" not in raw
    assert STATE["token_hash"] not in token


def test_nothing_left_to_read_is_no_cursor() -> None:
    assert cursors.seal(None, "x") is None and cursors.seal({}, "x") is None
    assert cursors.unseal(None, "x") is None and cursors.unseal("", "x") is None


@pytest.mark.parametrize("position", [0, 5, 20, -1])
def test_any_flipped_bit_is_refused(position: int) -> None:
    token = cursors.seal(STATE, "api_keys")
    assert token is not None
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[position] ^= 0x01
    forged = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    with pytest.raises(InvalidField) as refused:
        cursors.unseal(forged, "api_keys")
    assert refused.value.field == ("cursor",)
    assert from_domain(refused.value, frozenset({"cursor"})).status_code == 422


@pytest.mark.parametrize("junk", ["!!!", "%%%", "abc", "e30", "x" * 300, "eyJpZCI6IDF9"])
def test_junk_is_refused(junk: str) -> None:
    with pytest.raises(InvalidField):
        cursors.unseal(junk, "api_keys")


def test_a_cursor_of_another_list_or_filter_is_refused() -> None:
    token = cursors.seal(STATE, cursors.scope_of("notifications", status="sent"))
    with pytest.raises(InvalidField):
        cursors.unseal(token, cursors.scope_of("notifications", status="failed"))
    with pytest.raises(InvalidField):
        cursors.unseal(token, cursors.scope_of("exports", status="sent"))
    assert cursors.unseal(token, cursors.scope_of("notifications", status="sent", channel_id=None)) == STATE


def test_the_configured_secret_signs(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.settings import reset_settings

    monkeypatch.setenv("VALHALLA_CURSOR_SECRET", "one")
    reset_settings()
    token = cursors.seal(STATE, "s")
    monkeypatch.setenv("VALHALLA_CURSOR_SECRET", "two")
    reset_settings()
    with pytest.raises(InvalidField):
        cursors.unseal(token, "s")
    monkeypatch.setenv("VALHALLA_CURSOR_SECRET", "one")
    reset_settings()
    assert cursors.unseal(token, "s") == STATE
