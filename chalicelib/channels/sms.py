"""SMS through Amazon SNS ``Publish`` to a phone number, as a transactional message."""

from __future__ import annotations

from typing import Any

from chalicelib.channels.aws_errors import classify
from chalicelib.channels.base import ChannelConfig, Delivered, OutgoingMessage

SMS_MAX_CHARS = 1600  # SNS splits longer texts; past this it refuses them


def sms_text(message: OutgoingMessage) -> str:
    text = f"{message.subject}\n{message.body}" if message.body else message.subject
    return text if len(text) <= SMS_MAX_CHARS else text[: SMS_MAX_CHARS - 1] + "\u2026"


class SmsDriver:
    def __init__(self, sns: Any) -> None:
        self.sns = sns

    def send(self, channel: ChannelConfig, message: OutgoingMessage) -> Delivered:
        try:
            response = self.sns.publish(
                PhoneNumber=channel.target,
                Message=sms_text(message),
                MessageAttributes={
                    "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
                },
            )
        except Exception as exc:
            raise classify(exc, "SNS") from exc
        return Delivered(provider_message_id=response.get("MessageId"))
