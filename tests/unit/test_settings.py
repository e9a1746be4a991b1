"""A bad ``VALHALLA_*`` value stops the start with the variable's name and the form it needs."""

from __future__ import annotations

import pytest

from chalicelib.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    ("name", "value", "form"),
    [
        ("VALHALLA_LEASE_SECONDS", "sixty", "a whole number"),
        ("VALHALLA_MAINTENANCE_CACHE_SECONDS", "5s", "a non-negative number of seconds"),
        ("VALHALLA_TALLY_FLUSH_SECONDS", "-1", "a non-negative number of seconds"),
        ("VALHALLA_ALLOW_PRIVATE_WEBHOOK_TARGETS", "maybe", "a boolean"),
        ("VALHALLA_RETRY_SCHEDULE", "5,five", "comma-separated non-negative seconds"),
        ("VALHALLA_RETRY_SCHEDULE", "1,-2", "comma-separated non-negative seconds"),
        ("VALHALLA_MAX_BODY_BYTES", "0", "a whole number >= 1"),
    ],
)
def test_a_malformed_value_names_the_variable_and_the_expected_form(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, form: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    message = str(raised.value)
    assert f"{name}={value!r}" in message
    assert f"expected {form}" in message


def test_every_malformed_variable_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALHALLA_LEASE_SECONDS", "x")
    monkeypatch.setenv("VALHALLA_WEBHOOK_TIMEOUT_SECONDS", "y")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert "VALHALLA_LEASE_SECONDS='x'" in str(raised.value)
    assert "VALHALLA_WEBHOOK_TIMEOUT_SECONDS='y'" in str(raised.value)


def test_well_formed_values_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALHALLA_LEASE_SECONDS", "45")
    monkeypatch.setenv("VALHALLA_ALLOW_PRIVATE_WEBHOOK_TARGETS", "off")
    monkeypatch.setenv("VALHALLA_WEBHOOK_TIMEOUT_SECONDS", "2.5")
    settings = load_settings()
    assert (settings.lease_seconds, settings.allow_private_webhook_targets, settings.webhook_timeout_seconds) == (
        45,
        False,
        2.5,
    )
