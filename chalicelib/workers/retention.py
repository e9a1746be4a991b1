"""The purge: one purger per category, on DynamoDB Query + BatchWriteItem.

Expired records are found with a Query on a key or an index ordered by time (never
a Scan), projected to their keys only, and deleted 25 per ``BatchWriteItem``.
``UnprocessedItems`` are retried with exponential backoff; what is still left after
the last attempt is handed back so the run can keep it and retry it later, so no
record is lost or skipped. The cost is about ``ceil(N/25)`` writes plus the query
pages, whatever the size of the table.

The handlers at the bottom are what ``app.py`` calls.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.logs import get_logger

if TYPE_CHECKING:
    from pynamodb.models import Model

    from chalicelib.services.audit import AuditLog

Key = dict[str, Any]  # a DynamoDB item or key in the low-level attribute-value format

BATCH_WRITE_LIMIT = 25
S3_DELETE_LIMIT = 1000
QUERY_PAGE_SIZE = 1000


# --- time budget ---------------------------------------------------------------------


class Budget(Protocol):
    """How much of this invocation is left for work."""

    def exhausted(self) -> bool: ...

    def seconds_left(self) -> float: ...


class LambdaBudget:
    """The Lambda's remaining time, minus a reserve to save the position and re-enqueue."""

    def __init__(self, remaining_ms: Callable[[], float], reserve_seconds: float) -> None:
        self.remaining_ms = remaining_ms
        # Never reserve more than a fifth of what the invocation started with.
        self.reserve_ms = min(reserve_seconds * 1000.0, max(0.0, remaining_ms()) * 0.2)

    @classmethod
    def from_context(cls, context: Any, reserve_seconds: float, default_seconds: float = 60.0) -> LambdaBudget:
        if context is not None and hasattr(context, "get_remaining_time_in_millis"):
            return cls(context.get_remaining_time_in_millis, reserve_seconds)
        deadline = time.monotonic() + default_seconds
        return cls(lambda: (deadline - time.monotonic()) * 1000.0, reserve_seconds)

    def exhausted(self) -> bool:
        return self.remaining_ms() <= self.reserve_ms

    def seconds_left(self) -> float:
        return max(0.0, self.remaining_ms() / 1000.0)


class BatchBudget:
    """At most ``batches`` delete batches per invocation (tests, simulations)."""

    def __init__(self, batches: int, seconds: float = 900.0) -> None:
        self.left = batches
        self.seconds = seconds

    def exhausted(self) -> bool:
        self.left -= 1
        return self.left <= 0

    def seconds_left(self) -> float:
        return self.seconds


class Unlimited:
    def exhausted(self) -> bool:
        return False

    def seconds_left(self) -> float:
        return 900.0


# --- query and batch delete ----------------------------------------------------------


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


# --- purgers ---------------------------------------------------------------------------


class Purger:
    """What a category's records are and how to find the expired ones."""

    category = ""
    # The export job type that archives this category before a purge (None: cannot archive).
    export_type: str | None = None

    def available(self) -> bool:
        return True

    def unavailable_reason(self) -> str:
        return f"Category '{self.category}' cannot be purged by this system yet."

    def sources(self, cutoff: str) -> list[Source]:
        """Queries over the expired records, sorted by name (resuming relies on the order)."""
        raise NotImplementedError

    def moment(self, item: Key) -> str:
        """The ISO time of a record from its projected attributes."""
        raise NotImplementedError

    def before_delete(self, keys: list[Key]) -> int:
        """Delete what belongs to these records outside DynamoDB; returns objects deleted."""
        return 0

    def after_source(self, source: Source, cutoff: str) -> None:
        """Called when a source holds no more expired records (not in a dry run)."""


class AuditLogPurger(Purger):
    """Audit events: one Query per day partition up to the cutoff's day (``sk`` < cutoff)."""

    category = "audit_logs"
    export_type = "audit_log_export"

    def __init__(self, audit: AuditLog) -> None:
        self.audit = audit

    def sources(self, cutoff: str) -> list[Source]:
        from chalicelib.store.audit import AuditItem

        table = AuditItem.Meta.table_name
        return [
            Source(
                name=day,
                table=table,
                key_condition="#d = :d AND #s < :c",
                names={"#d": "day", "#s": "sk"},
                values={":d": {"S": day}, ":c": {"S": cutoff}},
                key_attrs=("day", "sk"),
                position_attrs=("day", "sk"),
                time_attr="sk",
                consistent=True,
            )
            for day in sorted(self.audit.known_days())
            if day <= cutoff[:10]
        ]

    def moment(self, item: Key) -> str:
        return str(item["sk"]["S"]).split("#", 1)[0]

    def after_source(self, source: Source, cutoff: str) -> None:
        # A day before the cutoff's day is now empty: no later purge needs to look at it.
        if source.name < cutoff[:10]:
            self.audit.forget_day(source.name)


def _key_names(schema: dict[str, Any]) -> tuple[str, str | None]:
    hash_name = range_name = None
    for part in schema["key_schema"]:
        if part["KeyType"] == "HASH":
            hash_name = part["AttributeName"]
        else:
            range_name = part["AttributeName"]
    assert hash_name is not None
    return hash_name, range_name


class StatusIndexPurger(Purger):
    """Records of a table with a ``by_status`` index (hash ``status``, range ``created_at``)."""

    statuses: tuple[str, ...] = ()
    module = ""
    model_name = ""
    index_attr = "by_status"

    def model(self) -> type[Model] | None:
        import importlib

        try:
            module = importlib.import_module(self.module)
        except ImportError:
            return None
        model = getattr(module, self.model_name, None)
        index = getattr(model, self.index_attr, None) if model is not None else None
        if index is None:
            return None
        _hash, range_name = _key_names(index._get_schema())
        return model if range_name else None

    def available(self) -> bool:
        return self.model() is not None

    def unavailable_reason(self) -> str:
        return f"Category '{self.category}' is not purgeable yet: its store has no status index ordered by time."

    def sources(self, cutoff: str) -> list[Source]:
        model: Any = self.model()
        if model is None:
            return []
        index = getattr(model, self.index_attr)
        status_name, time_name = _key_names(index._get_schema())
        table_hash, table_range = _key_names(model._get_schema())
        key_attrs = (table_hash,) if table_range is None else (table_hash, table_range)
        return [
            Source(
                name=status,
                table=model.Meta.table_name,
                index=index.Meta.index_name,
                key_condition="#h = :h AND #r < :c",
                names={"#h": status_name, "#r": str(time_name)},
                values={":h": {"S": status}, ":c": {"S": cutoff}},
                key_attrs=key_attrs,
                position_attrs=tuple(dict.fromkeys((*key_attrs, status_name, str(time_name)))),
                time_attr=str(time_name),
            )
            for status in sorted(self.statuses)
        ]

    def moment(self, item: Key) -> str:
        model: Any = self.model()
        _status, time_name = _key_names(getattr(model, self.index_attr)._get_schema())
        return str(item[str(time_name)]["S"])


class NotificationsPurger(StatusIndexPurger):
    """Outbox items already ``sent`` or ``failed``; ``pending`` ones are never touched."""

    category = "notifications"
    export_type = "notification_export"
    statuses = ("failed", "sent")
    module = "chalicelib.store.notifications"
    model_name = "OutboxItem"


class ExportJobsPurger(StatusIndexPurger):
    """Finished export jobs (``completed``/``failed``) and every S3 object under ``exports/{id}/``."""

    category = "export_jobs"
    statuses = ("completed", "failed")
    module = "chalicelib.store.exports"
    model_name = "ExportJobItem"

    def __init__(self, s3: Callable[[], Any], bucket: Callable[[], str]) -> None:
        self.s3 = s3
        self.bucket = bucket

    def before_delete(self, keys: list[Key]) -> int:
        # Objects first: if this stops half-way the job item is still there and is found again.
        s3, bucket = self.s3(), self.bucket()
        objects: list[dict[str, str]] = []
        for key in keys:
            job_id = next(iter(key["id"].values()))
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"exports/{job_id}/"):
                objects.extend({"Key": entry["Key"]} for entry in page.get("Contents", []))
        deleted = 0
        for start in range(0, len(objects), S3_DELETE_LIMIT):
            chunk = objects[start : start + S3_DELETE_LIMIT]
            response = s3.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                raise RuntimeError(
                    f"S3 refused to delete {len(errors)} object(s), e.g. {first.get('Key')}: {first.get('Code')}"
                )
            deleted += len(chunk)
        return deleted


@dataclass
class Purgers:
    """The purger of each category this system can purge."""

    by_category: dict[str, Purger] = field(default_factory=dict)

    def get(self, category: str) -> Purger | None:
        return self.by_category.get(category)

    def purgeable(self, category: str) -> bool:
        purger = self.get(category)
        return purger is not None and purger.available()

    def export_type(self, category: str) -> str | None:
        purger = self.get(category)
        return purger.export_type if purger is not None else None

    def reason(self, category: str) -> str:
        purger = self.get(category)
        if purger is None:
            return f"Category '{category}' is not purgeable: no purger exists for it."
        return purger.unavailable_reason()


class AnalyticsPurger(StatusIndexPurger):
    """The analytics' time-bucketed rows (chalicelib.store.stats) whose bucket ended before the cutoff."""

    category = "analytics"
    statuses = ("stats",)
    module = "chalicelib.store.stats"
    model_name = "StatsRow"
    index_attr = "by_end"


def default_purgers(audit: AuditLog, s3: Callable[[], Any], bucket: Callable[[], str]) -> Purgers:
    purgers: list[Purger] = [
        AuditLogPurger(audit),
        NotificationsPurger(),
        ExportJobsPurger(s3, bucket),
        AnalyticsPurger(),
    ]
    return Purgers({purger.category: purger for purger in purgers})


def chunks(items: Sequence[Key], size: int = BATCH_WRITE_LIMIT) -> Iterator[list[Key]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


# --- the purge queue and the handlers app.py calls -------------------------------------


class PurgeQueue:
    """Messages ``{"run_id": N}`` on the purge queue: start or continue a run."""

    def __init__(self, sqs: Callable[[], Any], queue_url: Callable[[], str]) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self._url: str | None = None

    def send(self, run_id: int, delay_seconds: int = 0) -> None:
        if self._url is None:
            self._url = self.queue_url()
        self.sqs().send_message(
            QueueUrl=self._url,
            MessageBody=json.dumps({"run_id": run_id}),
            DelaySeconds=max(0, min(900, int(delay_seconds))),
        )


def handle_purge_messages(records: Sequence[tuple[str, str]], budget: Budget) -> dict[str, Any]:
    """Process purge-run messages ``(message_id, body)``; failed ones go back to the queue."""
    from chalicelib.deps import get_deps

    logger = get_logger()
    failures = []
    for message_id, body in records:
        try:
            run_id = int(json.loads(body)["run_id"])
        except (ValueError, KeyError, TypeError):
            logger.error("dropping a malformed purge message", extra={"message_id": message_id})
            continue
        try:
            get_deps().retention.process_run(run_id, budget)
        except Exception:
            logger.exception("purge run failed; the message will be retried", extra={"run_id": run_id})
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}


def run_scheduled_purge(budget: Budget) -> int:
    """The daily purge: a run over every policy, processed now and continued from the queue."""
    from chalicelib.deps import get_deps

    retention = get_deps().retention
    run = retention.create_run(None, dry_run=False, requested_by="schedule", trigger="schedule")
    retention.process_run(run.id, budget)
    return run.id


def budget_for(context: Any) -> LambdaBudget:
    """The time budget of this Lambda invocation (the reserve comes from settings)."""
    from chalicelib.settings import get_settings

    return LambdaBudget.from_context(context, get_settings().purge_reserve_seconds)
