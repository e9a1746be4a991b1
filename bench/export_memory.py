"""Peak memory and AWS calls of one ``audit_log_export``, by export size.

The emulated AWS (``moto_server``) runs in a process of its own, so its memory (it
keeps every row and every S3 part) is not counted. For each size this script

1. starts a fresh ``moto_server`` and creates the tables, queues and bucket;
2. writes N audit events straight into the audit table with ``BatchWriteItem``
   (25 a call, a few threads), spread over ten UTC days;
3. creates an ``audit_log_export`` job through the export service;
4. runs the export worker in a **separate process** on that job, which reports the
   resident set before the export and its high-water mark after it (``VmHWM``,
   or ``resource.getrusage`` where there is no ``/proc``), the
   Python heap's peak during it (``tracemalloc``, in a second run) and every AWS
   call it made (botocore ``before-call`` hooks on every client it creates);
5. downloads the result through the job's presigned URL, and checks its row count
   and the manifest's SHA-256.

    python -m bench.export_memory                      # 10,000 and 100,000 rows
    python -m bench.export_memory --sizes 1000 20000   # other sizes

Results go to ``bench/export_memory.json``; :func:`measure` returns the same dict.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "export_memory.json"
DEFAULT_SIZES = (10_000, 100_000)
PART_BYTES = 5 * 1024 * 1024  # S3's minimum, so that the larger exports really are multipart
DAYS = 10
FIRST_DAY = datetime(2024, 3, 1, tzinfo=UTC)
ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "VALHALLA_STAGE": "bench",
    "VALHALLA_LOG_LEVEL": "WARNING",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "VALHALLA_EXPORT_PART_BYTES": str(PART_BYTES),
    "PYNAMODB_CONFIG": str(ROOT / "bench" / "emulator_pynamodb.py"),  # the emulator's slow queries
}

# --------------------------------------------------------------------------- the emulator


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **ENV},
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, endpoint
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("moto_server did not start")


def _use(endpoint: str) -> None:
    os.environ.update(ENV)
    os.environ["VALHALLA_AWS_ENDPOINT_URL"] = endpoint
    from chalicelib.aws import reset_clients
    from chalicelib.deps import reset_deps
    from chalicelib.settings import reset_settings
    from chalicelib.store.models import reset_connections

    reset_settings()
    reset_deps()
    reset_clients()
    reset_connections()


# --------------------------------------------------------------------------- rows


def _event(index: int, total: int) -> dict[str, Any]:
    from chalicelib.store.sharding import shard_count, sharded

    moment = FIRST_DAY + timedelta(seconds=(DAYS * 86_400 - 1) * index / max(1, total))
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    event_id = secrets.token_hex(8)
    actor = f"user-{index % 50}"
    action = ("notification.enqueue", "export.create", "maintenance.set", "key.create")[index % 4]
    shard = index % shard_count()
    item = {
        "day": {"S": sharded(stamp[:10], shard)},
        "actor_key": {"S": sharded(actor, shard)},
        "action_key": {"S": sharded(action, shard)},
        "sk": {"S": f"{stamp}#{event_id}"},
        "event_id": {"S": event_id},
        "at": {"S": stamp},
        "actor": {"S": actor},
        "role": {"S": "operator"},
        "action": {"S": action},
        "resource_type": {"S": "notification"},
        "resource_id": {"S": str(index)},
        "summary": {"S": json.dumps({"channel_id": index % 17, "subject": f"Alert {index}: disk at {index % 100}%"})},
        "request_id": {"S": secrets.token_hex(16)},
        "source_ip": {"S": f"10.{index % 256}.{(index // 256) % 256}.7"},
    }
    return item


def seed_audit(rows: int) -> float:
    """Write ``rows`` audit events with BatchWriteItem; returns seconds taken."""
    from chalicelib import aws
    from chalicelib.deps import get_deps
    from chalicelib.settings import get_settings
    from chalicelib.store.audit import AUDIT_DAYS_KEY, AuditDays

    table = get_settings().table("audit_log")
    started = time.perf_counter()

    def write(chunk: range) -> None:
        client = aws.client("dynamodb")
        batch = [{"PutRequest": {"Item": _event(index, rows)}} for index in chunk]
        for start in range(0, len(batch), 25):
            pending: dict[str, Any] = {table: batch[start : start + 25]}
            while pending:
                pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    step = 2_500
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, [range(start, min(rows, start + step)) for start in range(0, rows, step)]))
    days = {(FIRST_DAY + timedelta(days=day)).strftime("%Y-%m-%d") for day in range(DAYS)}
    AuditDays(AUDIT_DAYS_KEY).update(actions=[AuditDays.days.add(days)])
    assert len(get_deps().audit.known_days()) >= DAYS
    return time.perf_counter() - started


def create_job() -> int:
    from chalicelib.deps import get_deps
    from chalicelib.domain.common import SYSTEM_PRINCIPAL
    from chalicelib.domain.exports import CreateExport

    last_day = (FIRST_DAY + timedelta(days=DAYS - 1)).strftime("%Y-%m-%d")
    request = CreateExport(
        job_type="audit_log_export",
        filter_params={"start_date": FIRST_DAY.strftime("%Y-%m-%d"), "end_date": last_day},
        requested_by="bench",
    )
    return int(get_deps().exports.create(request, SYSTEM_PRINCIPAL).id)


# --------------------------------------------------------------------------- the worker process


def _memory_mib() -> tuple[float, float]:
    """(resident now, resident high-water mark) of this process, in MiB.

    Linux's ``VmHWM`` belongs to this process's own address space; ``ru_maxrss`` would
    carry over the peak of the (much larger) parent that spawned it.
    """
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024
    except (OSError, KeyError, ValueError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak_mib = peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
        return peak_mib, peak_mib


def worker_main(endpoint: str, job_id: int, trace: bool) -> dict[str, Any]:
    """Run one export in this process and measure it (called in a child process)."""
    _use(endpoint)
    from bench.aws_calls import AwsCallCounter
    from chalicelib.deps import get_deps
    from chalicelib.workers.exports import ExportWorker, run_export_message

    class NewClientsOnly(AwsCallCounter):
        """Hooks the clients created from now on only (building every model's client would cost memory)."""

        def hook_existing(self) -> None:
            return None

    with NewClientsOnly() as counter:  # installed before the worker builds a single client
        worker = ExportWorker(get_deps())
        # Warm-up: imports, the SQS and S3 clients (S3's service model alone is tens of MiB),
        # the DynamoDB connections. What the export itself needs is then measured apart.
        get_deps().exports.queue_url()
        assert get_deps().exports.s3 is not None
        get_deps().audit.known_days()
        rss_before, hwm_before = _memory_mib()
        if trace:
            import tracemalloc

            tracemalloc.start()
        started = time.perf_counter()
        with counter.measure() as calls:
            outcome = run_export_message({"job_id": job_id}, lambda: 900_000.0, worker)
        elapsed = time.perf_counter() - started
    heap_peak = None
    if trace:
        import tracemalloc

        heap_peak = tracemalloc.get_traced_memory()[1] / (1024 * 1024)
        tracemalloc.stop()
    _rss_after, hwm_after = _memory_mib()
    return {
        "outcome": outcome,
        "seconds": round(elapsed, 2),
        "rss_before_mib": round(rss_before, 1),
        "hwm_before_mib": round(hwm_before, 1),
        "rss_peak_mib": round(hwm_after, 1),
        "heap_peak_mib": None if heap_peak is None else round(heap_peak, 1),
        "calls": calls.total,
        "by_api": calls.as_dict(),
    }


def run_worker(endpoint: str, job_id: int, trace: bool) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.export_memory", "--worker", endpoint, str(job_id)]
    if trace:
        command.append("--trace")
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **ENV}, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"worker process failed: {done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# --------------------------------------------------------------------------- checking the result


def verify(job_id: int, rows: int) -> dict[str, Any]:
    """Download the file through the presigned URL, count its rows, check the manifest."""
    import requests

    from chalicelib import aws
    from chalicelib.deps import get_deps

    jobs = get_deps().exports
    job = jobs.get(job_id)
    assert job.status.value == "completed", job
    link = jobs.download(job_id)
    digest = hashlib.sha256()
    inflate = zlib.decompressobj(31)
    lines = 0
    with requests.get(link.url, stream=True, timeout=60) as reply:
        reply.raise_for_status()
        for chunk in reply.iter_content(1024 * 1024):
            digest.update(chunk)
            data = chunk
            while data:
                lines += inflate.decompress(data).count(b"\n")
                data = inflate.unused_data
                if data:
                    inflate = zlib.decompressobj(31)  # the next gzip member
    assert job.manifest_url is not None
    bucket, _, key = job.manifest_url[len("s3://") :].partition("/")
    manifest = json.loads(aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert lines == rows == job.row_count == manifest["row_count"], (lines, rows, job.row_count)
    assert digest.hexdigest() == manifest["sha256"]
    return {
        "row_count": job.row_count,
        "bytes": job.bytes,
        "parts": job.progress.parts_uploaded,
        "presigned_download": "ok",
        "manifest_sha256": "matches",
    }


# --------------------------------------------------------------------------- one size


def measure_size(rows: int) -> dict[str, Any]:
    process, endpoint = start_moto()
    try:
        _use(endpoint)
        from bench.aws_calls import AwsCallCounter
        from chalicelib.resources import create_all

        create_all()
        seed_seconds = seed_audit(rows)
        with AwsCallCounter() as counter, counter.measure() as create_calls:
            job_id = create_job()
        plain = run_worker(endpoint, job_id, trace=False)
        checked = verify(job_id, rows)
        traced_job = create_job()
        traced = run_worker(endpoint, traced_job, trace=True)
        return {
            "rows": rows,
            "seed_seconds": round(seed_seconds, 1),
            "export_seconds": plain["seconds"],
            "rss_before_mib": plain["rss_before_mib"],
            "rss_peak_mib": plain["rss_peak_mib"],
            "rss_growth_mib": round(plain["rss_peak_mib"] - plain["rss_before_mib"], 1),
            "outcome": plain["outcome"],
            "heap_peak_mib": traced["heap_peak_mib"],
            "create_calls": create_calls.as_dict(),
            "worker_calls": plain["calls"],
            "worker_by_api": plain["by_api"],
            **checked,
        }
    finally:
        process.terminate()
        process.wait(timeout=30)


def measure(sizes: tuple[int, ...] = DEFAULT_SIZES, write: bool = True) -> dict[str, Any]:
    results = {str(rows): measure_size(rows) for rows in sizes}
    peaks = {size: figures["rss_peak_mib"] for size, figures in results.items()}
    ordered = sorted(results, key=int)
    summary: dict[str, Any] = {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "part_bytes": PART_BYTES,
        "emulator": "moto_server in its own process",
        "peak_mib": peaks,
        "heap_peak_mib": {size: figures["heap_peak_mib"] for size, figures in results.items()},
        "sizes": results,
    }
    if len(ordered) >= 2:
        small, large = results[ordered[0]], results[ordered[-1]]
        summary["growth"] = round(large["rss_peak_mib"] / small["rss_peak_mib"], 2)
        summary["rows_ratio"] = round(int(ordered[-1]) / int(ordered[0]), 1)
    if write:
        RESULTS.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.export_memory", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--worker", nargs=2, metavar=("ENDPOINT", "JOB_ID"), help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker_main(args.worker[0], int(args.worker[1]), args.trace)))
        return 0
    summary = measure(tuple(args.sizes))
    for size, figures in summary["sizes"].items():
        print(
            f"{int(size):>8} rows: peak RSS {figures['rss_peak_mib']} MiB "
            f"(+{figures['rss_growth_mib']} during the export), Python heap peak {figures['heap_peak_mib']} MiB, "
            f"{figures['bytes']} bytes in {figures['parts']} part(s), {figures['worker_calls']} AWS calls "
            f"{figures['worker_by_api']}, {figures['export_seconds']} s"
        )
    print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
