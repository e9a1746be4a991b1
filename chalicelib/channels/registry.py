"""Channel drivers keyed by ``channel_type``: a new channel type is one driver and one entry."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from chalicelib.channels.base import Driver
from chalicelib.settings import Settings

DriverFactory = Callable[[Settings], Driver]


def _email(settings: Settings) -> Driver:
    from chalicelib import aws
    from chalicelib.channels.email import EmailDriver

    return EmailDriver(aws.delivery_client("ses"), settings.email_sender)


def _sms(settings: Settings) -> Driver:
    from chalicelib import aws
    from chalicelib.channels.sms import SmsDriver

    return SmsDriver(aws.delivery_client("sns"))


def _webhook(settings: Settings) -> Driver:
    from chalicelib.channels.webhook import WebhookDriver

    return WebhookDriver(timeout=settings.webhook_timeout_seconds, allow_private=settings.allow_private_webhook_targets)


FACTORIES: dict[str, DriverFactory] = {"email": _email, "sms": _sms, "webhook": _webhook}


class Registry:
    """Drivers built on first use; tests pass their own in ``drivers``."""

    def __init__(self, settings: Settings, drivers: Mapping[str, Driver] | None = None) -> None:
        self.settings = settings
        self._drivers: dict[str, Driver] = dict(drivers or {})

    def driver(self, channel_type: str) -> Driver:
        if channel_type not in self._drivers:
            factory = FACTORIES.get(channel_type)
            if factory is None:
                raise KeyError(f"No driver for channel type {channel_type!r}")
            self._drivers[channel_type] = factory(self.settings)
        return self._drivers[channel_type]

    def register(self, channel_type: str, driver: Driver) -> None:
        self._drivers[channel_type] = driver
