"""Capacity, measured: DynamoDB write units, the hottest partition key and SQS requests.

Every DynamoDB write request the system sends is captured (:mod:`bench.write_recorder`)
and priced with AWS's sizing rules (:mod:`bench.wru`) while it handles

- ``notify_1_channel`` / ``notify_100_channels``: 200 notifications with 1 KB bodies (random
  letters, digits and spaces),
  ``POST /system/notify/`` through the Chalice test client, then the notifications
  queue's pump (the local stack's Lambda poller) runs the delivery worker until every
  one is ``sent`` (email through the emulated SES);
- ``export_10000``: one ``audit_log_export`` of 10,000 audit events, created by the
  export service and run by the exports queue's pump;
- ``purge_1000_of_10000``: one retention purge of the outbox deleting 1,000 of 10,000.

For each: WRU per operation by table and index, the hottest partition key value
(table or index, and the value) and its WRU per operation, the ceiling that key sets
(1,000 WRU/s per key value / that), SQS requests, and dollars per million operations
(on-demand: $0.625 per million WRU, $0.40 per million SQS requests).

    python -m bench.capacity             # measures, writes bench/capacity.json, prints before/after
    python -m bench.capacity --before    # the same, saved as the BEFORE figures (bench/capacity_before.json)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.env import ROOT, admin_token, emulated_aws, reset_all
from bench.write_recorder import Ledger, WriteRecorder
from bench.wru import Charge

RESULT = ROOT / "bench" / "capacity.json"
BEFORE = ROOT / "bench" / "capacity_before.json"
NOTIFICATIONS = 200
BODY_BYTES = 1024
KEY_WRU_PER_SECOND = 1000  # what DynamoDB serves to one partition key value
DOLLARS_PER_WRU = 0.625 / 1_000_000
DOLLARS_PER_SQS_REQUEST = 0.40 / 1_000_000

# --------------------------------------------------------------------------- figures


def summarise(ledger: Ledger, operations: int, logical: dict[str, str]) -> dict[str, Any]:
    """Per-operation figures of a ledger (pure: the arithmetic of the report)."""

    def where(charge: Charge) -> str:
        table = logical.get(charge.table, charge.table)
        return f"{table}/{charge.index}" if charge.index else table

    by_where: Counter[str] = Counter()
    by_key: Counter[tuple[str, str]] = Counter()
    by_action: Counter[str] = Counter()
    for charge in ledger.charges:
        by_where[where(charge)] += charge.wru
        by_key[(where(charge), charge.key)] += charge.wru
        by_action[charge.action] += charge.wru
    total = sum(by_where.values())
    sqs = sum(ledger.sqs.values())

    def per(value: float) -> float:
        return round(value / operations, 3)

    (hot_where, hot_key), hot_wru = by_key.most_common(1)[0] if by_key else (("-", "-"), 0)
    hot_per = hot_wru / operations
    wru_per, sqs_per = total / operations, sqs / operations
    return {
        "operations": operations,
        "wru_per_operation": per(total),
        "wru_by_table_index": {name: per(value) for name, value in sorted(by_where.items())},
        "wru_by_action": {name: per(value) for name, value in sorted(by_action.items())},
        "hottest_key": {"where": hot_where, "key": hot_key, "wru_per_operation": round(hot_per, 3)},
        "hottest_keys": [
            {"where": name, "key": key, "wru_per_operation": per(value)} for (name, key), value in by_key.most_common(5)
        ],
        "ceiling_per_second": round(KEY_WRU_PER_SECOND / hot_per, 1) if hot_per else None,
        "sqs_requests_per_operation": per(sqs),
        "sqs_by_api": {name: per(value) for name, value in sorted(ledger.sqs.items())},
        "dynamodb_write_calls": {name: per(value) for name, value in sorted(ledger.dynamodb_writes.items())},
        "dollars_per_million": {
            "dynamodb_writes": round(wru_per * DOLLARS_PER_WRU * 1e6, 2),
            "sqs": round(sqs_per * DOLLARS_PER_SQS_REQUEST * 1e6, 2),
            "total": round((wru_per * DOLLARS_PER_WRU + sqs_per * DOLLARS_PER_SQS_REQUEST) * 1e6, 2),
        },
    }


def _logical_names() -> dict[str, str]:
    from chalicelib.settings import get_settings

    return {physical: logical for logical, physical in get_settings().table_names.items()}


# --------------------------------------------------------------------------- the drivers


@contextlib.contextmanager
def _recorded(**env: str) -> Iterator[WriteRecorder]:
    with emulated_aws(**env), WriteRecorder() as recorder:
        reset_all()  # every client from here on is made, and hooked, by the recorder
        yield recorder


def _pump(queue: str) -> Any:
    from app import app
    from chalicelib import aws
    from chalicelib.local.pumps import SqsPump, sqs_sources
    from chalicelib.settings import get_settings

    settings = get_settings()
    name = settings.queue(queue)
    source = next(s for s in sqs_sources(app) if (s.queue or str(s.queue_arn).rsplit(":", 1)[-1]) == name)
    return SqsPump(app, source, sqs=aws.client("sqs"), stage=settings.stage, region=settings.region, log=lambda _: None)


def _drain(pump: Any) -> int:
    batches = 0
    while pump.poll_once(wait_seconds=0) is not None:
        batches += 1
    return batches


def notify(channels: int) -> dict[str, Any]:
    from chalice.test import Client

    from app import app
    from chalicelib.deps import get_deps
    from chalicelib.domain.notifications import ChannelType, CreateChannel
    from chalicelib.workers.notifications import write_held_tallies

    with _recorded() as recorder:
        token = admin_token()
        service = get_deps().notifications
        ids = [
            int(
                service.create_channel(
                    CreateChannel(name=f"capacity-{i}", channel_type=ChannelType.email, target=f"ops{i}@example.com")
                ).id
            )
            for i in range(channels)
        ]
        pump = _pump("notifications")
        headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
        body = _body()
        made = []
        with Client(app, stage_name="local", project_dir=str(ROOT)) as client:
            with recorder.measure() as ledger:
                for index in range(NOTIFICATIONS):
                    request = {"channel_id": ids[index % channels], "subject": f"Capacity {index}", "body": body}
                    reply = client.http.post("/system/notify/", headers=headers, body=json.dumps(request).encode())
                    assert reply.status_code == 201, reply.body
                    made.append(json.loads(reply.body)["id"])
                _drain(pump)
                write_held_tallies()  # what the worker still holds, as its next batch would write it
            statuses = Counter(
                json.loads(client.http.get(f"/system/notify/{i}", headers=headers).body)["status"] for i in made
            )
        assert statuses == {"sent": NOTIFICATIONS}, statuses
        figures = summarise(ledger, NOTIFICATIONS, _logical_names())
    return {"channels": channels, "body_bytes": BODY_BYTES, **figures}


def _body() -> str:
    """1 KB of random letters, digits and spaces: plain text that compresses the least
    (bodies are stored compressed when that is smaller; repeated letters would flatter it)."""
    import random
    import string

    rand = random.Random(BODY_BYTES)
    return "".join(rand.choice(string.ascii_letters + string.digits + " ") for _ in range(BODY_BYTES))


def export_10000() -> dict[str, Any]:
    from bench import export_memory
    from chalicelib.deps import get_deps

    rows = 10_000
    with _recorded(VALHALLA_EXPORT_PART_BYTES=str(export_memory.PART_BYTES)) as recorder:
        export_memory.seed_audit(rows)
        pump = _pump("exports")
        with recorder.measure() as ledger:
            job_id = export_memory.create_job()
            _drain(pump)
        job = get_deps().exports.get(job_id)
        assert job.status.value == "completed" and job.row_count == rows, job
        figures = summarise(ledger, 1, _logical_names())
    return {"rows": rows, **figures}


def purge_1000_of_10000() -> dict[str, Any]:
    from bench import purge_calls
    from bench.aws_calls import AwsCallCounter

    with _recorded() as recorder:
        purge_calls._fill_outbox()
        with recorder.measure() as ledger:
            done = purge_calls._purge(AwsCallCounter(), "notifications")
        figures = summarise(ledger, 1, _logical_names())
    return {"table_items": purge_calls.TOTAL, "deleted": done["deleted"], **figures}


SCENARIOS: dict[str, Callable[[], dict[str, Any]]] = {
    "notify_1_channel": lambda: notify(1),
    "notify_100_channels": lambda: notify(100),
    "export_10000": export_10000,
    "purge_1000_of_10000": purge_1000_of_10000,
}


def measure(only: list[str] | None = None) -> dict[str, Any]:
    results: dict[str, Any] = {"measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    for name, scenario in SCENARIOS.items():
        if only and name not in only:
            continue
        print(f"  capacity: {name}...", file=sys.stderr, flush=True)
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # the app's metric lines (EMF) are not the report
                results[name] = scenario()
        except Exception as exc:  # one failed scenario must not lose the others
            results[name] = {"status": f"failed: {type(exc).__name__}: {exc}"[:300]}
    return results


# --------------------------------------------------------------------------- the table


def _figure(figures: dict[str, Any] | None, name: str) -> str:
    if not figures or "wru_per_operation" not in figures:
        return (figures or {}).get("status", "-")[:40]
    hot = figures["hottest_key"]
    values = {
        "WRU": f"{figures['wru_per_operation']:g}",
        "hottest key": f"{hot['where']}={hot['key']}: {hot['wru_per_operation']:g} WRU",
        "ceiling /s": "-" if figures["ceiling_per_second"] is None else f"{figures['ceiling_per_second']:g}",
        "SQS requests": f"{figures['sqs_requests_per_operation']:g}",
        "$ per million": f"{figures['dollars_per_million']['total']:g}",
    }
    return values[name]


def table(after: dict[str, Any], before: dict[str, Any] | None) -> str:
    header = ("operation", "figure", "before", "after")
    rows = []
    for scenario in SCENARIOS:
        for index, name in enumerate(("WRU", "hottest key", "ceiling /s", "SQS requests", "$ per million")):
            rows.append(
                (
                    scenario if index == 0 else "",
                    name,
                    _figure((before or {}).get(scenario), name),
                    _figure(after.get(scenario), name),
                )
            )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    lines = [" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in [header, *rows]]
    lines.insert(1, "-|-".join("-" * width for width in widths))
    return "\n".join(lines) + "\n(per operation: one notification enqueued to sent, one export, one purge run)"


def save(results: dict[str, Any], output: Path = RESULT) -> dict[str, Any]:
    output.write_text(json.dumps(results, indent=2) + "\n")
    return results


def load(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.capacity", description=__doc__.splitlines()[0])
    parser.add_argument("--before", action="store_true", help=f"save as the BEFORE figures ({BEFORE.name})")
    parser.add_argument("--only", default="", help=f"comma-separated scenarios of {', '.join(SCENARIOS)}")
    args = parser.parse_args(argv)
    only = [name for name in args.only.split(",") if name]
    output = BEFORE if args.before else RESULT
    results = measure(only)
    if only and output.exists():
        results = {**json.loads(output.read_text()), **results}
    save(results, output)
    print(table(load(RESULT) or {}, load(BEFORE)))
    print(f"\nwritten to {output.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
