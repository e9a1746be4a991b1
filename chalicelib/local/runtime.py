"""What Lambda gives an event handler: the event in AWS's shape and a context object.

The pumps and the scheduler build their events here, and :func:`invoke` calls a
Chalice handler the way the Lambda runtime does, ``handler(event, context)``.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chalice.app import Chalice
from chalice.local import LambdaContext

ACCOUNT_ID = "123456789012"  # moto's account
DEFAULT_BUDGET_SECONDS = 60

Handler = Callable[[dict[str, Any], Any], Any]


def lambda_context(function_name: str, region: str, budget_seconds: int = DEFAULT_BUDGET_SECONDS) -> LambdaContext:
    """A Lambda context: ``aws_request_id``, ``function_name``, ``get_remaining_time_in_millis()``."""
    context = LambdaContext(function_name, memory_size=128, max_runtime_ms=budget_seconds * 1000)
    context.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}"
    return context


def invoke(handler: Handler, event: dict[str, Any], context: LambdaContext) -> Any:
    """Call an event handler as the Lambda runtime does.

    Chalice hands the context to an event handler as ``event.context`` and leaves
    ``app.lambda_context`` alone (it sets that for HTTP requests only), so neither
    does this; app.py's middleware copies it for the handlers that read it there.
    """
    return handler(event, context)


def find_handler(app: Chalice, name: str, handler_string: str) -> Handler:
    """The wrapped handler Chalice registered under ``name`` (else ``module.function``)."""
    handler = app.handler_map.get(name)
    if handler is None:
        import importlib

        module_name, _, attribute = handler_string.rpartition(".")
        handler = getattr(importlib.import_module(module_name), attribute)
    return handler  # type: ignore[no-any-return]


def function_name(app: Chalice, stage: str, name: str) -> str:
    """The Lambda function's name as Chalice deploys it."""
    return f"{app.app_name}-{stage}-{name}"


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One SQS message as Lambda's event source mapping hands it to a function."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [_b64(item) for item in value.get("BinaryListValues", [])],
        "dataType": value.get("DataType", "String"),
    }
    if "StringValue" in value:
        converted["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        converted["binaryValue"] = _b64(value["BinaryValue"])
    return converted


def _b64(raw: bytes | str) -> str:
    return base64.b64encode(raw if isinstance(raw, bytes) else raw.encode()).decode("ascii")


def scheduled_event(rule_arn: str, region: str, moment: datetime) -> dict[str, Any]:
    """The EventBridge event a schedule rule sends its target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


def rule_arn(region: str, rule_name: str) -> str:
    return f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/{rule_name}"


class ThreadLocalLambdaContext:
    """Mixin for the served app: ``lambda_context`` per thread, as ``current_request`` already is.

    Locally one process serves HTTP requests and event handlers on many threads at
    once; in Lambda each invocation has the process to itself.
    """

    _CONTEXTS = threading.local()

    @property
    def lambda_context(self) -> Any:
        try:
            return self._CONTEXTS.value
        except AttributeError:
            raise AttributeError("lambda_context was never set in this thread (as on Lambda)") from None

    @lambda_context.setter
    def lambda_context(self, value: Any) -> None:
        self._CONTEXTS.value = value


def elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
