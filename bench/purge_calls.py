"""DynamoDB calls of a purge of 1,000 expired records out of a table of 10,000, against the floor.

The floor is ``ceil(1000/25)`` = 40 ``BatchWriteItem`` calls plus the Query pages that
find the expired records. Two tables are measured: the notification outbox (a GSI
ordered by time, one source per purgeable status) and the audit log (one partition
per day). Calls are counted with botocore ``before-call`` hooks on every client
(the purge engine's boto3 client and PynamoDB's connection clients); the run's own
bookkeeping (claim, save, maintenance state, the run's audit event) is reported apart.

    python -m bench.purge_calls      # prints the figures and writes bench/purge_calls.json
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.env import ROOT

RESULT = ROOT / "bench" / "purge_calls.json"
TOTAL = 10_000
EXPIRED = 1_000
NOW = datetime(2026, 6, 1, 0, 0, 0, tzinfo=UTC)  # midnight: the cutoff falls between two days
DAYS_TO_KEEP = 30
PURGE_APIS = ("dynamodb.Query", "dynamodb.BatchWriteItem", "dynamodb.Scan")


def _put_all(table: str, items: list[dict[str, Any]]) -> None:
    from chalicelib import aws

    client = aws.client("dynamodb")
    for start in range(0, len(items), 25):
        requests: list[Any] = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        while requests:
            response = client.batch_write_item(RequestItems={table: requests})
            requests = response.get("UnprocessedItems", {}).get(table, [])


def _fill_outbox() -> None:
    """10,000 outbox items: 1,000 sent/failed before the cutoff, the rest recent or pending."""
    from chalicelib.clock import isoformat
    from chalicelib.store.notifications import ContentItem, OutboxItem
    from chalicelib.store.sharding import shard_count, sharded

    items = []
    for number in range(1, TOTAL + 1):
        expired = number <= EXPIRED
        if expired:
            status, moment = ("sent" if number % 2 else "failed"), NOW - timedelta(days=40, seconds=number)
        elif number <= EXPIRED + 500:
            status, moment = "pending", NOW - timedelta(days=60, seconds=number)  # old but pending: kept
        else:
            status, moment = "sent", NOW - timedelta(days=5, seconds=number)
        stamp = isoformat(moment)
        shard = number % shard_count()
        items.append(
            {
                "id": {"N": str(number)},
                "status": {"S": status},
                "status_key": {"S": sharded(status, shard)},
                "channel_key": {"S": sharded(1, shard)},
                "created_at": {"S": stamp},
                "updated_at": {"S": stamp},
                "channel_id": {"N": "1"},
                "channel_type": {"S": "email"},
                "attempts": {"N": "1"},
                "history": {"L": []},
                "cycle_attempts": {"N": "0"},
            }
        )
    _put_all(OutboxItem.Meta.table_name, items)
    contents = [
        {"id": {"N": str(n)}, "subject": {"S": f"subject {n}"}, "body": {"S": "x" * 200}} for n in range(1, TOTAL + 1)
    ]
    _put_all(ContentItem.Meta.table_name, contents)


def _fill_audit() -> None:
    """10,000 audit events over 10 days, 1,000 a day; the cutoff leaves exactly one day expired."""
    from chalicelib.clock import isoformat
    from chalicelib.deps import get_deps
    from chalicelib.store.audit import AUDIT_DAYS_KEY, AuditDays, AuditItem
    from chalicelib.store.sharding import shard_count, sharded

    cutoff = NOW - timedelta(days=DAYS_TO_KEEP)
    first_day = datetime(cutoff.year, cutoff.month, cutoff.day, tzinfo=UTC) - timedelta(days=1)
    items, days = [], set()
    for number in range(TOTAL):
        moment = first_day + timedelta(days=number // 1000, seconds=(number % 1000) * 30)
        if (moment < cutoff) != (number < EXPIRED):
            raise AssertionError("the bench's layout expects exactly the first day to be expired")
        stamp = isoformat(moment)
        event_id = f"{number:016x}"
        days.add(stamp[:10])
        shard = number % shard_count()
        items.append(
            {
                "day": {"S": sharded(stamp[:10], shard)},
                "actor_key": {"S": sharded("bench", shard)},
                "action_key": {"S": sharded("bench.event", shard)},
                "sk": {"S": f"{stamp}#{event_id}"},
                "event_id": {"S": event_id},
                "at": {"S": stamp},
                "actor": {"S": "bench"},
                "role": {"S": "admin"},
                "action": {"S": "bench.event"},
                "resource_type": {"S": "thing"},
            }
        )
    _put_all(AuditItem.Meta.table_name, items)
    AuditDays(AUDIT_DAYS_KEY).update(actions=[AuditDays.days.add(days)])
    assert days <= set(get_deps().audit.known_days())


# The fewest Query pages that can find the expired records (pages hold up to 1,000 keys):
# outbox: one page per write shard of each purgeable status (sent, failed); audit log: each
# shard of the expired day and of the cutoff's day, which must be looked at to know it
# holds nothing older. Shards: VALHALLA_WRITE_SHARDS (docs/design/data-layout.md).
QUERY_FLOOR = {"notifications": 2, "audit_logs": 2}  # per write shard


def _query_floor(category: str) -> int:
    from chalicelib.store.sharding import shard_count

    return QUERY_FLOOR[category] * shard_count()


def _purge(counter: Any, category: str) -> dict[str, Any]:
    from chalicelib.budget import Unlimited
    from chalicelib.clock import FixedClock
    from chalicelib.deps import get_deps
    from chalicelib.domain.retention import SetPolicy

    deps = get_deps()
    deps.clock = FixedClock(NOW)
    for name in ("audit", "retention", "maintenance"):
        deps.__dict__.pop(name, None)
    retention = deps.retention
    retention.set_policy(SetPolicy(category=category, days_to_keep=DAYS_TO_KEEP))
    run = retention.create_run([category], dry_run=False, requested_by="bench")
    retention.queue.send = lambda run_id, delay_seconds=0: None  # type: ignore[method-assign]
    with counter.measure() as calls:
        done = retention.process_run(run.id, Unlimited())
    assert done is not None and done.status.value == "completed", done
    result = done.categories[0]
    assert result.deleted == EXPIRED, result
    by_api = calls.as_dict()
    purge_calls = {name: count for name, count in by_api.items() if name in PURGE_APIS}
    # A purged notification's content goes with it: a second batch of deletes per 25.
    writes_floor = math.ceil(EXPIRED / 25) * (2 if category == "notifications" else 1)
    queries = purge_calls.get("dynamodb.Query", 0)
    return {
        "category": category,
        "table_items": TOTAL,
        "expired": EXPIRED,
        "deleted": result.deleted,
        "batch_writes": purge_calls.get("dynamodb.BatchWriteItem", 0),
        "batch_writes_floor": writes_floor,
        "query_pages": queries,
        "scans": purge_calls.get("dynamodb.Scan", 0),
        "purge_calls": sum(purge_calls.values()),
        "query_pages_floor": _query_floor(category),
        "purge_floor": writes_floor + _query_floor(category),
        "ratio_to_floor": round(sum(purge_calls.values()) / (writes_floor + _query_floor(category)), 3),
        "run_bookkeeping_calls": calls.total - sum(purge_calls.values()),
        "calls": calls.total,
        "by_api": by_api,
    }


def measure(counter: Any) -> dict[str, Any]:
    """For ``make bench``: the outbox purge (the GSI path) with the audit purge alongside."""
    _fill_outbox()
    outbox = _purge(counter, "notifications")
    _fill_audit()
    audit = _purge(counter, "audit_logs")
    return {
        "calls": outbox["calls"],
        "floor": outbox["purge_floor"],
        "by_api": outbox["by_api"],
        "notifications": outbox,
        "audit_logs": audit,
        "floor_note": "ceil(1000/25) BatchWriteItem + the Query pages; bookkeeping of the run counted apart",
    }


def main() -> None:
    from bench.aws_calls import AwsCallCounter
    from bench.env import emulated_aws

    results: dict[str, Any] = {}
    with emulated_aws(), AwsCallCounter() as counter:
        _fill_outbox()
        results["notifications"] = _purge(counter, "notifications")
    with emulated_aws(), AwsCallCounter() as counter:
        _fill_audit()
        results["audit_logs"] = _purge(counter, "audit_logs")
    for name, figures in results.items():
        print(
            f"{name}: {figures['purge_calls']} purge calls ({figures['batch_writes']} BatchWriteItem, floor "
            f"{figures['batch_writes_floor']}; {figures['query_pages']} Query pages, "
            f"floor {figures['query_pages_floor']}; "
            f"{figures['scans']} Scan; ratio {figures['ratio_to_floor']}) "
            f"+ {figures['run_bookkeeping_calls']} run bookkeeping = {figures['calls']} DynamoDB/SQS calls "
            f"to delete {figures['deleted']} of {figures['table_items']}"
        )
    RESULT.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"written to {RESULT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
