"""DynamoDB Query + BatchWriteItem, the low-level calls of the purge.

Expired records are found with a Query on a key or an index ordered by time (never
a Scan), projected to their keys only, and deleted 25 per ``BatchWriteItem``.
``UnprocessedItems`` are retried with exponential backoff; what is still left after
the last attempt is handed back so the run can keep it and retry it later, so no
record is lost or skipped. The cost is about ``ceil(N/25)`` writes plus the query
pages, whatever the size of the table.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

Key = dict[str, Any]  # a DynamoDB item or key in the low-level attribute-value format

BATCH_WRITE_LIMIT = 25
QUERY_PAGE_SIZE = 1000


@dataclass(frozen=True)
class Source:
    """One Query that yields expired records in time order (a day partition, a status)."""

    name: str
    table: str
    key_condition: str
    names: dict[str, str]
    values: dict[str, Any]
    key_attrs: tuple[str, ...]  # the table's primary key
    position_attrs: tuple[str, ...]  # what ExclusiveStartKey needs (table + index keys)
    time_attr: str
    index: str | None = None
    consistent: bool = False

    def key_of(self, item: Key) -> Key:
        return {name: item[name] for name in self.key_attrs}

    def position_of(self, item: Key) -> Key:
        return {name: item[name] for name in self.position_attrs}


class DynamoPurgeEngine:
    """Low-level DynamoDB calls of the purge, with the client and the sleep injected."""

    def __init__(
        self,
        client: Any,
        sleep: Callable[[float], None] = time.sleep,
        page_size: int = QUERY_PAGE_SIZE,
        max_attempts: int = 8,
        base_delay: float = 0.05,
        max_delay: float = 2.0,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.client = client
        self.sleep = sleep
        self.page_size = page_size
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.jitter = jitter

    def _query(self, source: Source, **extra: Any) -> dict[str, Any]:
        params: dict[str, Any] = {
            "TableName": source.table,
            "KeyConditionExpression": source.key_condition,
            "ExpressionAttributeNames": dict(source.names),
            "ExpressionAttributeValues": source.values,
            "ScanIndexForward": True,
        }
        if source.index:
            params["IndexName"] = source.index
        elif source.consistent:
            params["ConsistentRead"] = True
        projected = extra.pop("project", None)
        if projected:
            placeholders = []
            for position, name in enumerate(projected):
                placeholder = f"#p{position}"
                params["ExpressionAttributeNames"][placeholder] = name
                placeholders.append(placeholder)
            params["ProjectionExpression"] = ", ".join(placeholders)
        params.update({name: value for name, value in extra.items() if value is not None})
        return dict(self.client.query(**params))

    def page(self, source: Source, start: Key | None) -> tuple[list[Key], Key | None]:
        """One Query page of expired records (their keys and time only), oldest first."""
        wanted = tuple(dict.fromkeys((*source.position_attrs, source.time_attr)))
        response = self._query(source, project=wanted, Limit=self.page_size, ExclusiveStartKey=start)
        return list(response.get("Items", [])), response.get("LastEvaluatedKey")

    def count(self, source: Source) -> int:
        total, start = 0, None
        while True:
            response = self._query(source, Select="COUNT", ExclusiveStartKey=start)
            total += int(response.get("Count", 0))
            start = response.get("LastEvaluatedKey")
            if not start:
                return total

    def first(self, source: Source) -> Key | None:
        start = None
        while True:  # a Limit-1 page can be empty only past filtered items; loop to be safe
            response = self._query(source, project=(source.time_attr,), Limit=1, ExclusiveStartKey=start)
            items = response.get("Items", [])
            if items:
                return dict(items[0])
            start = response.get("LastEvaluatedKey")
            if not start:
                return None

    def delete(self, table: str, keys: Sequence[Key]) -> list[Key]:
        """Delete up to 25 keys; returns the keys still unprocessed after the last attempt."""
        if len(keys) > BATCH_WRITE_LIMIT:
            raise ValueError(f"at most {BATCH_WRITE_LIMIT} keys per BatchWriteItem")
        requests = [{"DeleteRequest": {"Key": key}} for key in keys]
        attempt = 0
        while requests:
            response = self.client.batch_write_item(RequestItems={table: requests})
            requests = list((response.get("UnprocessedItems") or {}).get(table, []))
            if not requests:
                break
            attempt += 1
            if attempt >= self.max_attempts:
                return [request["DeleteRequest"]["Key"] for request in requests]
            delay = min(self.max_delay, self.base_delay * 2**attempt)
            self.sleep(delay * (0.5 + self.jitter() / 2))
        return []


def chunks(items: Sequence[Key], size: int = BATCH_WRITE_LIMIT) -> Iterator[list[Key]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
