"""Where export rows come from: DynamoDB queries read page by page, never a Scan.

A source is a list of *segments*, each one key-condition query (one audit-log day,
one outbox status, one index partition), read in order. Its position is
``{"segment": <name>, "key": <LastEvaluatedKey or None>}``: JSON, so the worker can
save it on the job and continue in another invocation. Segments are named, not
numbered, so a position stays right if a segment appears or disappears meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from chalicelib.clock import isoformat
from chalicelib.domain.disclosure import public_error, redact_urls
from chalicelib.domain.exports import AuditExportFilter, NotificationExportFilter, Window
from chalicelib.store.pagination import take

Row = dict[str, Any]
Cursor = dict[str, Any]
Page = tuple[list[Row], Cursor | None]
# (limit, last_evaluated_key) -> a PynamoDB result iterator over one key condition
RunQuery = Callable[[int, dict[str, Any] | None], Any]


@dataclass(frozen=True)
class Segment:
    name: str
    run: RunQuery


class QuerySource:
    def __init__(self, segments: list[Segment], convert: Callable[[Any], Row], columns: list[str]) -> None:
        self.segments = sorted(segments, key=lambda segment: segment.name)
        self.convert = convert
        self.columns = columns

    def progress(self, after: Cursor | None) -> tuple[int, int]:
        """(segments read in full, segments) at the position ``after`` (``None``: the end).

        The count of segments is known before the first row (audit-log days, outbox
        statuses): a total toward which progress shows without counting rows first.
        """
        total = len(self.segments)
        if after is None:
            return total, total
        return sum(1 for segment in self.segments if segment.name < after["segment"]), total

    def pages(self, cursor: Cursor | None, page_rows: int) -> Iterator[Page]:
        """Pages of rows, each with the position after it (``None`` after the last one)."""
        segments = self.segments
        key: dict[str, Any] | None = None
        if cursor:
            segments = [segment for segment in segments if segment.name >= cursor["segment"]]
            if segments and segments[0].name == cursor["segment"]:
                key = cursor.get("key")
        if not segments:
            yield [], None
            return
        for position, segment in enumerate(segments):
            while True:
                results = segment.run(page_rows, key)
                items = take(results, page_rows)
                key = results.last_evaluated_key if len(items) == page_rows else None
                rows = [self.convert(item) for item in items]
                if key:
                    yield rows, {"segment": segment.name, "key": key}
                    continue
                following = segments[position + 1] if position + 1 < len(segments) else None
                yield rows, ({"segment": following.name, "key": None} if following else None)
                break


class StaticSource:
    """A few records built at once (a configuration snapshot): one page."""

    def __init__(self, build: Callable[[], list[Row]], columns: list[str]) -> None:
        self.build = build
        self.columns = columns

    def progress(self, after: Cursor | None) -> tuple[int, int]:
        return (1 if after is None else 0), 1

    def pages(self, cursor: Cursor | None, page_rows: int) -> Iterator[Page]:
        yield self.build(), None


# --- the audit log ------------------------------------------------------------------

AUDIT_COLUMNS = [
    "id",
    "at",
    "actor",
    "role",
    "action",
    "resource_type",
    "resource_id",
    "summary",
    "request_id",
    "source_ip",
    "actor_key_id",
]


def _audit_row(item: Any) -> Row:
    return {
        "id": item.event_id,
        "at": item.at,
        "actor": item.actor,
        "role": item.role,
        "action": item.action,
        "resource_type": item.resource_type,
        "resource_id": item.resource_id,
        "summary": redact_urls(item.summary),  # any viewer may download the file
        "request_id": item.request_id,
        "source_ip": item.source_ip,
        "actor_key_id": None if item.actor_key_id is None else int(item.actor_key_id),
    }


def _sk_bounds(window: Window) -> tuple[str, str]:
    """``sk`` is ``<iso>#<id>``: ``<end>`` sorts before ``<end>#...``, so the upper bound is exclusive."""
    low = isoformat(window.start) if window.start else "0000"
    high = isoformat(window.end) if window.end else "9999"
    return low, high


def audit_source(filters: AuditExportFilter, known_days: Callable[[], list[str]]) -> QuerySource:
    """Oldest first: one segment for an actor or action filter, else one per day (shards merged)."""
    from chalicelib.store.audit import AuditRepo
    from chalicelib.store.outbox import MergedPage

    repo = AuditRepo()
    window = filters.window()
    low, high = _sk_bounds(window)

    if filters.actor or filters.action:

        def by_index(limit: int, key: dict[str, Any] | None) -> Any:
            after = key.get("after") if key else None
            rows, stopped = repo.by_index(filters.actor, filters.action, low, high, limit, after, descending=False)
            return MergedPage(rows, {"after": stopped} if stopped else None)

        return QuerySource([Segment("index", by_index)], _audit_row, AUDIT_COLUMNS)

    first_day = low[:10] if window.start else "0000-00-00"
    last_day = isoformat(window.end - timedelta(milliseconds=1))[:10] if window.end else "9999-12-31"

    def one_day(day: str) -> RunQuery:
        def run(limit: int, key: dict[str, Any] | None) -> Any:
            after = key.get("after") if key else None
            rows, stopped = repo.by_day(day, low, high, limit, after, descending=False)
            return MergedPage(rows, {"after": stopped} if stopped else None)

        return run

    days = [day for day in known_days() if first_day <= day <= last_day]
    return QuerySource([Segment(day, one_day(day)) for day in days], _audit_row, AUDIT_COLUMNS)


# --- the notification outbox --------------------------------------------------------

NOTIFICATION_COLUMNS = [
    "id",
    "created_at",
    "updated_at",
    "channel_id",
    "channel_type",
    "subject",
    "body",
    "payload",
    "status",
    "attempts",
    "last_error",
    "sent_at",
    "requested_by",
]
OUTBOX_STATUSES = ("pending", "sent", "failed")


def _notification_row(stored: Any) -> Row:
    row: Row = {}
    for column in NOTIFICATION_COLUMNS:
        source = stored.content if column in ("subject", "body", "payload") else stored.state
        value = getattr(source, column, None) if source is not None else None
        if column in ("id", "channel_id", "attempts") and value is not None:
            value = int(value)
        if column == "last_error":
            value = public_error(value)  # any viewer may download the file: no receiver's answer
        row[column] = value
    return row


def notification_source(filters: NotificationExportFilter) -> QuerySource:
    """Oldest first per status (pending, sent, failed), every shard of a status merged."""
    from chalicelib.store.outbox import OutboxRepo

    repo = OutboxRepo()
    window = filters.window()
    low = isoformat(window.start) if window.start else "0000"
    # created_at is a plain ISO string with milliseconds: the last included instant.
    high = isoformat(window.end - timedelta(milliseconds=1)) if window.end else "9999"
    status = filters.status.value if filters.status else None

    if filters.channel_id is not None:
        reader = repo.window_reader(status, filters.channel_id, low, high)
        return QuerySource([Segment("channel", reader)], _notification_row, NOTIFICATION_COLUMNS)

    statuses = [status] if status else list(OUTBOX_STATUSES)
    segments = [
        Segment(f"{OUTBOX_STATUSES.index(value)}-{value}", repo.window_reader(value, None, low, high))
        for value in statuses
    ]
    return QuerySource(segments, _notification_row, NOTIFICATION_COLUMNS)


# --- the configuration snapshot -----------------------------------------------------

SNAPSHOT_COLUMNS = ["record_type", "key", "taken_at", "data"]


def config_snapshot_source(
    taken_at: str,
    channels: Callable[[], list[dict[str, Any]]],
    policies: Callable[[], list[dict[str, Any]]],
    maintenance: Callable[[], dict[str, Any]],
) -> StaticSource:
    """One record per channel (secrets redacted), per retention policy, and one for the maintenance state."""

    def build() -> list[Row]:
        def record(record_type: str, key: Any, data: Any) -> Row:
            return {"record_type": record_type, "key": str(key), "taken_at": taken_at, "data": data}

        records = [record("channel", channel.get("id"), channel) for channel in channels()]
        records += [record("retention_policy", policy.get("category"), policy) for policy in policies()]
        records.append(record("maintenance", "current", maintenance()))
        return records

    return StaticSource(build, SNAPSHOT_COLUMNS)
