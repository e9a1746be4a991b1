"""Fault injection for the reliability suite, at the one place every AWS call passes.

Both boto3 clients and PynamoDB's connection end in botocore's
``BaseClient._make_api_call``; :class:`Faults` wraps it so a test can make chosen
calls fail (throttling, errors) or rewrite their answers (``UnprocessedItems``),
and records every call it saw.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import botocore.client
import pytest
from botocore.exceptions import ClientError

DYNAMODB_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})

Matcher = Callable[[str, str, dict[str, Any]], bool]
Rewrite = Callable[[Callable[[dict[str, Any]], dict[str, Any]], dict[str, Any]], dict[str, Any]]


@dataclass
class Call:
    service: str
    operation: str
    params: dict[str, Any]
    failed: bool = False

    @property
    def table(self) -> str | None:
        name = self.params.get("TableName")
        return str(name) if name else None


@dataclass
class Rule:
    matches: Matcher
    code: str | None = None
    rewrite: Rewrite | None = None
    times: int | None = None  # None: every matching call
    status: int = 400
    fired: int = 0

    def active(self) -> bool:
        return self.times is None or self.fired < self.times


@dataclass
class Faults:
    rules: list[Rule] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)

    def fail(
        self,
        service: str,
        operation: str | None = None,
        code: str = "ProvisionedThroughputExceededException",
        *,
        times: int | None = None,
        table_contains: str | None = None,
        when: Matcher | None = None,
        status: int = 400,
    ) -> Rule:
        """Make matching calls raise ``ClientError(code)`` (``times`` times, or always)."""

        def matches(svc: str, op: str, params: dict[str, Any]) -> bool:
            if svc != service or (operation is not None and op != operation):
                return False
            if table_contains is not None and table_contains not in _tables(params):
                return False
            return when is None or when(svc, op, params)

        rule = Rule(matches, code=code, times=times, status=status)
        self.rules.append(rule)
        return rule

    def rewrite(self, service: str, operation: str, rewrite: Rewrite, *, times: int | None = None) -> Rule:
        """Answer matching calls with ``rewrite(send, params)``; ``send`` makes the real call."""
        rule = Rule(lambda svc, op, _: svc == service and op == operation, rewrite=rewrite, times=times)
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        self.rules.clear()

    def of(self, service: str, operation: str | None = None) -> list[Call]:
        return [c for c in self.calls if c.service == service and (operation is None or c.operation == operation)]

    def writes(self) -> list[Call]:
        return [c for c in self.of("dynamodb") if c.operation in DYNAMODB_WRITES]

    def _call(self, client: Any, original: Any, operation: str, params: dict[str, Any]) -> Any:
        service = client.meta.service_model.service_name
        call = Call(service, operation, params)
        self.calls.append(call)
        for rule in self.rules:
            if rule.active() and rule.matches(service, operation, params):
                rule.fired += 1
                if rule.rewrite is not None:
                    return rule.rewrite(lambda p: original(client, operation, p), params)
                call.failed = True
                error = {
                    "Error": {"Code": rule.code, "Message": f"injected {rule.code}"},
                    "ResponseMetadata": {"HTTPStatusCode": rule.status, "HTTPHeaders": {}},
                }
                raise ClientError(error, operation)  # type: ignore[arg-type]
        return original(client, operation, params)


def _tables(params: dict[str, Any]) -> str:
    names = [str(params.get("TableName", ""))]
    names += list(params.get("RequestItems", {}) or {})
    for item in params.get("TransactItems", []) or []:
        names += [str(op.get("TableName", "")) for op in item.values()]
    return ",".join(names)


def install(monkeypatch: pytest.MonkeyPatch) -> Faults:
    faults = Faults()
    original = botocore.client.BaseClient._make_api_call

    def patched(client: Any, operation: str, params: dict[str, Any]) -> Any:
        return faults._call(client, original, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", patched)
    return faults


# The API key rate limiter counts every request, a refused one too: that is accounting, not a write.
ACCOUNTING_TABLES = ("rate_limits",)


def snapshot() -> dict[str, int]:
    """How many things exist: items per table, messages per queue, objects in the bucket."""
    from chalicelib import aws
    from chalicelib.settings import get_settings

    settings = get_settings()
    counts: dict[str, int] = {}
    dynamodb = aws.client("dynamodb")
    for logical in settings.table_names:
        if logical in ACCOUNTING_TABLES:
            continue
        total, start = 0, None
        while True:
            kwargs: dict[str, Any] = {"TableName": settings.table(logical), "Select": "COUNT"}
            if start:
                kwargs["ExclusiveStartKey"] = start
            page = dynamodb.scan(**kwargs)
            total += page["Count"]
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        counts[f"table:{logical}"] = total
    sqs = aws.client("sqs")
    for logical in settings.queue_names:
        url = sqs.get_queue_url(QueueName=settings.queue(logical))["QueueUrl"]
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        counts[f"queue:{logical}"] = sum(int(value) for value in attributes.values())
    listing = aws.client("s3").list_objects_v2(Bucket=settings.exports_bucket)
    counts["bucket:objects"] = int(listing.get("KeyCount", 0))
    return counts


def dump(skip_tables: tuple[str, ...] = ()) -> dict[str, Any]:
    """Everything stored: every item of every table (sorted), queue depths, object keys."""
    from chalicelib import aws
    from chalicelib.settings import get_settings

    settings = get_settings()
    stored: dict[str, Any] = {}
    dynamodb = aws.client("dynamodb")
    for logical in settings.table_names:
        if logical in skip_tables or logical in ACCOUNTING_TABLES:
            continue
        items: list[str] = []
        start = None
        while True:
            kwargs: dict[str, Any] = {"TableName": settings.table(logical)}
            if start:
                kwargs["ExclusiveStartKey"] = start
            page = dynamodb.scan(**kwargs)
            # repr: compressed bodies are binary attributes
            items += [json.dumps(item, sort_keys=True, default=repr) for item in page["Items"]]
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        stored[f"table:{logical}"] = sorted(items)
    counts = snapshot()
    stored.update({key: value for key, value in counts.items() if not key.startswith("table:")})
    return stored
