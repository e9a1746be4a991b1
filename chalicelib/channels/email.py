"""Email through Amazon SES ``SendEmail``; the sender comes from settings."""

from __future__ import annotations

from typing import Any

from chalicelib.channels.aws_errors import classify
from chalicelib.channels.base import ChannelConfig, Delivered, OutgoingMessage


class EmailDriver:
    def __init__(self, ses: Any, sender: str) -> None:
        self.ses = ses
        self.sender = sender

    def send(self, channel: ChannelConfig, message: OutgoingMessage) -> Delivered:
        try:
            response = self.ses.send_email(
                Source=self.sender,
                Destination={"ToAddresses": [channel.target]},
                Message={
                    "Subject": {"Data": message.subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": message.body, "Charset": "UTF-8"}},
                },
            )
        except Exception as exc:
            raise classify(exc, "SES") from exc
        return Delivered(provider_message_id=response.get("MessageId"))
