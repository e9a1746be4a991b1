"""AWS calls and memory of the capability packs' operations, measured against their floors.

Each operation runs inside an emulated AWS account with a call counter installed
(see :mod:`bench.run`); it returns ``calls`` (what it made, per operation), ``by_api``
and ``floor`` (the fewest calls the operation needs). The retention purge and the
export figures come from the capabilities' own bench scripts (:mod:`bench.purge_calls`,
:mod:`bench.export_memory`), run here rather than duplicated.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.env import NotReady

REPEAT = 100  # operations averaged, so once-per-container costs (queue URL, id blocks) show as what they are


def _per_operation(by_api: dict[str, int], count: int) -> dict[str, float]:
    return {name: round(value / count, 3) for name, value in sorted(by_api.items())}


def _email_channel() -> int:
    from chalicelib.deps import get_deps
    from chalicelib.domain.notifications import ChannelType, CreateChannel

    channel = get_deps().notifications.create_channel(
        CreateChannel(name="bench-mail", channel_type=ChannelType.email, target="ops@example.com")
    )
    return int(channel.id)


def enqueue(counter: Any) -> dict[str, Any]:
    """``POST /system/notify``'s work: the outbox write and the queue message, per notification."""
    from chalice.test import Client

    from app import app
    from bench.env import ROOT, admin_token
    from chalicelib.deps import get_deps
    from chalicelib.domain.common import SYSTEM_PRINCIPAL
    from chalicelib.domain.notifications import EnqueueNotification

    channel_id = _email_channel()
    service = get_deps().notifications
    with counter.measure() as calls:
        for index in range(REPEAT):
            service.enqueue(
                EnqueueNotification(channel_id=channel_id, subject=f"bench {index}", body="b"), SYSTEM_PRINCIPAL
            )
    token = admin_token()
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    with Client(app, stage_name="local", project_dir=str(ROOT)) as client, counter.measure() as whole:
        for index in range(REPEAT):
            body = json.dumps({"channel_id": channel_id, "subject": f"http {index}", "body": "b"}).encode()
            reply = client.http.post("/system/notify", headers=headers, body=body)
            assert reply.status_code == 201, reply.body
    return {
        "calls": round(calls.total / REPEAT, 3),
        "by_api": _per_operation(calls.as_dict(), REPEAT),
        "floor": 2,
        "floor_note": "one DynamoDB write (the outbox item) and one SQS send",
        "operations": REPEAT,
        "whole_request_calls": round(whole.total / REPEAT, 3),
        "whole_request_by_api": _per_operation(whole.as_dict(), REPEAT),
    }


def deliver(counter: Any) -> dict[str, Any]:
    """One delivery of a pending notification by the worker's service, email channel (SES)."""
    from chalicelib.deps import get_deps
    from chalicelib.domain.common import SYSTEM_PRINCIPAL
    from chalicelib.domain.notifications import EnqueueNotification

    channel_id = _email_channel()
    service = get_deps().notifications
    service.sqs.send_message = lambda **kwargs: {}  # the queue is not what is measured here
    ids = [
        service.enqueue(EnqueueNotification(channel_id=channel_id, subject=f"d{i}", body="b"), SYSTEM_PRINCIPAL).id
        for i in range(REPEAT)
    ]
    with counter.measure() as calls:
        outcomes = [service.deliver(notification_id).outcome for notification_id in ids]
    assert outcomes == ["sent"] * REPEAT, set(outcomes)
    by_api = calls.as_dict()
    provider = {name: value for name, value in by_api.items() if name.startswith(("ses.", "sns."))}
    dynamodb = sum(value for name, value in by_api.items() if name.startswith("dynamodb."))
    return {
        "calls": round(calls.total / REPEAT, 3),
        "by_api": _per_operation(by_api, REPEAT),
        "dynamodb_calls": round(dynamodb / REPEAT, 3),
        "provider_calls": round(sum(provider.values()) / REPEAT, 3),
        "floor": 3,
        "floor_note": "2 DynamoDB calls (claim the lease, record the outcome) + 1 provider call (SES SendEmail)",
        "operations": REPEAT,
    }


def purge_1000_of_10000(counter: Any) -> dict[str, Any]:
    from bench import purge_calls

    measured = purge_calls.measure(counter)
    outbox = measured["notifications"]
    return {
        "calls": outbox["purge_calls"],
        "by_api": outbox["by_api"],
        "floor": outbox["purge_floor"],
        "floor_note": (
            f"ceil(1000/25) = {outbox['batch_writes_floor']} BatchWriteItem + {outbox['query_pages_floor']} "
            "Query pages (one per purgeable status on the outbox's time index)"
        ),
        "batch_writes": outbox["batch_writes"],
        "query_pages": outbox["query_pages"],
        "scans": outbox["scans"],
        "run_bookkeeping_calls": outbox["run_bookkeeping_calls"],
        "audit_logs": {
            key: measured["audit_logs"][key]
            for key in ("purge_calls", "purge_floor", "batch_writes", "query_pages", "scans", "run_bookkeeping_calls")
        },
    }


# --------------------------------------------------------------------------- exports

_export_cache: dict[str, Any] = {}


def _export_results() -> dict[str, Any]:
    """bench.export_memory's run (10,000 and 100,000 rows), once per bench run."""
    saved = os.environ.get("BENCH_EXPORT_RESULTS")
    if saved and "results" not in _export_cache:
        # A saved run of bench.export_memory (python -m bench.export_memory writes one): it takes long.
        _export_cache["results"] = json.loads(Path(saved).read_text())
        _export_cache["results"]["source"] = f"a saved run of bench/export_memory.py ({Path(saved).name})"
    if "results" not in _export_cache:
        from bench import export_memory

        original = export_memory.start_moto

        def start_moto() -> tuple[Any, str]:
            process, endpoint = original()
            return _Stoppable(process), endpoint

        export_memory.start_moto = start_moto  # type: ignore[assignment]
        try:
            _export_cache["results"] = export_memory.measure(write=False)
        finally:
            export_memory.start_moto = original  # type: ignore[assignment]
    return dict(_export_cache["results"])


class _Stoppable:
    """The emulator process, stopped for sure: an emulator holding 100,000 rows can take
    longer than its owner waits to exit on SIGTERM, and a measurement must not be lost to that."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process

    def terminate(self) -> None:
        self.process.terminate()

    def wait(self, timeout: float | None = None) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.process, name)


def export_10000(counter: Any) -> dict[str, Any]:
    """The export worker's calls for 10,000 audit events (ten days), from bench.export_memory's run."""
    from chalicelib.settings import get_settings

    results = _export_results()
    figures = results["sizes"].get("10000")
    if figures is None:
        raise NotReady("bench.export_memory did not measure 10,000 rows")
    by_api: dict[str, int] = figures["worker_by_api"]
    parts = int(figures["parts"])
    days = 10  # the bench spreads the events over ten days
    shards = get_settings().write_shards  # a day's events are spread over its write shards: a page each (< 1 MB)
    s3_floor = 2 if parts == 1 else parts + 3  # data (PutObject, or create + parts + complete) + manifest
    return {
        "calls": figures["worker_calls"],
        "by_api": by_api,
        "floor": days * shards + s3_floor + 2,
        "floor_note": (
            f"{days} days x {shards} write shards of Query pages + {s3_floor} S3 calls ({parts} part(s) and the"
            " manifest) + 2 job updates (running, completed)"
        ),
        "create_calls": figures.get("create_calls"),
    }


def export_memory() -> dict[str, Any]:
    results = _export_results()
    return {
        "peak_mib": results["peak_mib"],
        "heap_peak_mib": results.get("heap_peak_mib"),
        "rss_growth_mib": {size: figures["rss_growth_mib"] for size, figures in results["sizes"].items()},
        "growth": results.get("growth"),
        "rows_ratio": results.get("rows_ratio"),
        "emulator": results.get("emulator"),
        "part_bytes": results.get("part_bytes"),
        "measured_at": results.get("measured_at"),
        "source": results.get("source", "measured in this run"),
    }


OPERATIONS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "enqueue": enqueue,
    "deliver": deliver,
    "purge_1000_of_10000": purge_1000_of_10000,
    "export_10000": export_10000,
}
