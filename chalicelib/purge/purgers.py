"""One purger per category: what its records are and how to find the expired ones."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chalicelib.purge.engine import Key, Source

if TYPE_CHECKING:
    from pynamodb.models import Model

    from chalicelib.services.audit import AuditLog

S3_DELETE_LIMIT = 1000


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
        from chalicelib.store.audit import AuditItem, day_partitions

        table = AuditItem.Meta.table_name
        return [
            Source(
                name=partition,
                table=table,
                key_condition="#d = :d AND #s < :c",
                names={"#d": "day", "#s": "sk"},
                values={":d": {"S": partition}, ":c": {"S": cutoff}},
                key_attrs=("day", "sk"),
                position_attrs=("day", "sk"),
                time_attr="sk",
                consistent=True,
            )
            for day in sorted(self.audit.known_days())
            if day <= cutoff[:10]
            for partition in day_partitions(day)
        ]

    def moment(self, item: Key) -> str:
        return str(item["sk"]["S"]).split("#", 1)[0]

    def after_source(self, source: Source, cutoff: str) -> None:
        # A day before the cutoff's day is now empty (its last shard too, as sources run
        # in order): no later purge needs to look at it.
        from chalicelib.store.audit import day_partitions

        day = source.name[:10]
        if day < cutoff[:10] and source.name == day_partitions(day)[-1]:
            self.audit.forget_day(day)


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
    index_attr = "by_status"

    def model(self) -> type[Model] | None:
        """The store's model, if it has a status index ordered by time (imported when first needed)."""
        model = self.load_model()
        index = getattr(model, self.index_attr, None)
        if index is None:
            return None
        _hash, range_name = _key_names(index._get_schema())
        return model if range_name else None

    def load_model(self) -> type[Model]:
        raise NotImplementedError

    def available(self) -> bool:
        return self.model() is not None

    def partitions(self) -> tuple[str, ...]:
        """The index's partition key values to purge: the statuses, or their write shards."""
        return self.statuses

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
            for status in sorted(self.partitions())
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

    def load_model(self) -> type[Model]:
        from chalicelib.store.notifications import OutboxItem

        return OutboxItem

    def partitions(self) -> tuple[str, ...]:
        from chalicelib.store.sharding import all_shards

        return tuple(partition for status in self.statuses for partition in all_shards(status))

    def before_delete(self, keys: list[Key]) -> int:
        # The content goes with the state: contents first, a state left behind is found again.
        from chalicelib.store.outbox import OutboxRepo

        OutboxRepo().delete_contents([int(next(iter(key["id"].values()))) for key in keys])
        return 0


class ExportJobsPurger(StatusIndexPurger):
    """Finished export jobs (``completed``/``failed``) and every S3 object under ``exports/{id}/``."""

    category = "export_jobs"
    statuses = ("completed", "failed")

    def load_model(self) -> type[Model]:
        from chalicelib.store.exports import ExportJobItem

        return ExportJobItem

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
    index_attr = "by_end"

    def load_model(self) -> type[Model]:
        from chalicelib.store.stats import StatsRow

        return StatsRow

    def partitions(self) -> tuple[str, ...]:
        # Every write shard of ``kind`` (see chalicelib.store.stats.ROUND_ROBIN), and the
        # unsharded ``stats`` of rows written before the index was sharded.
        from chalicelib.store.stats import kind_partitions

        return tuple(kind_partitions())


def default_purgers(audit: AuditLog, s3: Callable[[], Any], bucket: Callable[[], str]) -> Purgers:
    purgers: list[Purger] = [
        AuditLogPurger(audit),
        NotificationsPurger(),
        ExportJobsPurger(s3, bucket),
        AnalyticsPurger(),
    ]
    return Purgers({purger.category: purger for purger in purgers})
