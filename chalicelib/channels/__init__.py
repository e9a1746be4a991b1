"""Channel drivers: email (SES), SMS (SNS), webhook (signed HTTP), keyed by ``channel_type``."""

from chalicelib.channels.base import ChannelConfig, Delivered, DeliveryFailed, Driver, OutgoingMessage
from chalicelib.channels.registry import Registry

__all__ = ["ChannelConfig", "Delivered", "DeliveryFailed", "Driver", "OutgoingMessage", "Registry"]
