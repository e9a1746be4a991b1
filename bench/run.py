"""``make bench``: how close to the floor the system runs, as counts and ratios.

Every figure of a run is measured in that run, so ratios compare like with like on
a noisy machine. Prints a table and writes ``bench/results.json``.

    python -m bench.run                       # everything
    python -m bench.run --only cold_import    # one part (others kept from the last run)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import capacity
from bench.cold_import import cold_import
from bench.env import ROOT, NotReady, admin_token, emulated_aws

RESULTS = ROOT / "bench" / "results.json"
PARTS = ("cold_import", "aws_calls", "export_memory", "api_latency", "capacity")

# --------------------------------------------------------------------------- aws_calls

Operation = Callable[[Any], dict[str, Any]]


def _shield_calls(counter: Any) -> dict[str, Any]:
    """Calls the shield itself makes per write request, over 100 write requests."""
    from chalice.test import Client

    import chalicelib.shield as shield_module
    from app import app

    token = admin_token()
    original = shield_module.check_writes_allowed
    shield_calls: dict[str, int] = {}
    checks = 0

    def counted() -> None:
        nonlocal checks
        checks += 1
        with counter.measure() as calls:
            original()
        for name, count in calls.by_api.items():
            shield_calls[name] = shield_calls.get(name, 0) + count

    shield_module.check_writes_allowed = counted
    try:
        with Client(app, stage_name="local", project_dir=str(ROOT)) as client, counter.measure() as whole:
            headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
            for index in range(100):
                body = json.dumps({"name": f"bench-{index}", "role": "viewer"}).encode()
                reply = client.http.post("/system/keys", headers=headers, body=body)
                assert reply.status_code == 201, reply.body
    finally:
        shield_module.check_writes_allowed = original
    assert checks == 100, checks
    total = sum(shield_calls.values())
    return {
        "calls": round(total / 100, 3),
        "by_api": {name: round(count / 100, 3) for name, count in sorted(shield_calls.items())},
        "requests": 100,
        "whole_request_calls": round(whole.total / 100, 2),
        "whole_request_by_api": {name: round(count / 100, 2) for name, count in whole.as_dict().items()},
        "floor": 0,
        "floor_note": "the state is cached per container, so a write usually reads nothing",
    }


def _capability_operations() -> dict[str, Operation]:
    """Operations of the capability packs (bench/capabilities.py) and what health and limits cost."""
    from bench import capabilities, health_costs

    return {**capabilities.OPERATIONS, **health_costs.OPERATIONS}


def aws_calls() -> dict[str, Any]:
    from bench.aws_calls import AwsCallCounter

    results: dict[str, Any] = {}
    operations: dict[str, Operation] = {"write_request_shield": _shield_calls, **_capability_operations()}
    for name, operation in operations.items():
        # The export figures come from bench.export_memory's own run (its own emulator process,
        # which it points the settings at: the environment is put back afterwards).
        context = restored_environment() if name.startswith("export") else emulated_aws()
        print(f"  aws_calls: {name}...", file=sys.stderr, flush=True)
        with context, AwsCallCounter() as counter:
            try:
                results[name] = operation(counter)
            except NotReady as exc:
                results[name] = {"calls": None, "floor": None, "status": f"not measured: {exc}"}
            except Exception as exc:  # one failed measurement must not lose the others
                results[name] = {"calls": None, "floor": None, "status": f"failed: {type(exc).__name__}: {exc}"[:300]}
    return results


@contextlib.contextmanager
def restored_environment() -> Iterator[None]:
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        from bench.env import reset_all

        reset_all()


# --------------------------------------------------------------------------- export_memory


def export_memory() -> dict[str, Any]:
    from bench import capabilities

    try:
        with restored_environment():
            return capabilities.export_memory()
    except NotReady as exc:
        return {"status": f"not measured: {exc}"}
    except Exception as exc:  # keep the other parts' figures
        return {"status": f"failed: {type(exc).__name__}: {exc}"[:300]}


# --------------------------------------------------------------------------- api_latency


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    index = max(0, math.ceil(share * len(ordered)) - 1)
    return ordered[index]


def api_latency(requests: int) -> dict[str, Any]:
    """In-process request handling (chalice.test.Client) for a read and a write route,
    against a bare Chalice route, sampled round-robin in the same run. ``*_without_aws``
    leaves out the time spent inside AWS calls (the in-process emulator), leaving the
    system's own handling: gateway, authorizer, shield, validation, serialisation."""
    from chalice import Chalice

    bare = Chalice(app_name="bare")

    @bare.route("/ping", methods=["GET"])
    def ping() -> dict[str, bool]:
        return {"ok": True}

    samples: dict[str, list[float]] = {"bare": [], "read": [], "write": []}
    own: dict[str, list[float]] = {"read": [], "write": []}  # minus the time inside AWS calls (the emulator)
    in_aws = [0.0]
    import botocore.client

    original_call = getattr(botocore.client.BaseClient, "_make_api_call")  # noqa: B009

    def timed_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
        started = time.perf_counter()
        try:
            return original_call(client, operation, params)
        finally:
            in_aws[0] += time.perf_counter() - started

    setattr(botocore.client.BaseClient, "_make_api_call", timed_call)  # noqa: B010
    try:
        _sample(samples, own, in_aws, requests, bare)
    finally:
        setattr(botocore.client.BaseClient, "_make_api_call", original_call)  # noqa: B010
    figures: dict[str, Any] = {"requests_each": requests}
    for name, values in samples.items():
        figures[name] = {
            "median_ms": round(statistics.median(values), 3),
            "p99_ms": round(_percentile(values, 0.99), 3),
        }
    for name in ("read", "write"):
        figures[name]["median_ratio"] = round(figures[name]["median_ms"] / figures["bare"]["median_ms"], 2)
        figures[name]["p99_ratio"] = round(figures[name]["p99_ms"] / figures["bare"]["p99_ms"], 2)
        without = own[name]
        figures[name]["median_ms_without_aws"] = round(statistics.median(without), 3)
        figures[name]["median_ratio_without_aws"] = round(statistics.median(without) / figures["bare"]["median_ms"], 2)
    figures["routes"] = {
        "bare": "GET /ping (a one-line Chalice app)",
        "read": "GET /system/maintenance/state (viewer; authorizer + cached state)",
        "write": "POST /system/maintenance/state (admin; authorizer + state write + audit)",
    }
    return figures


def _sample(
    samples: dict[str, list[float]], own: dict[str, list[float]], in_aws: list[float], requests: int, bare: Any
) -> None:
    from chalice.test import Client

    from app import app

    with emulated_aws():
        token = admin_token()
        auth = {"authorization": f"Bearer {token}", "content-type": "application/json"}
        with Client(app, stage_name="local", project_dir=str(ROOT)) as client, Client(bare) as bare_client:
            write_body = json.dumps({"mode": "normal", "reason": "bench"}).encode()
            calls: dict[str, Callable[[], Any]] = {
                "bare": lambda: bare_client.http.get("/ping"),
                "read": lambda: client.http.get("/system/maintenance/state", headers=auth),
                "write": lambda: client.http.post("/system/maintenance/state", headers=auth, body=write_body),
            }
            for _ in range(20):  # warm up
                for call in calls.values():
                    call()
            for _ in range(requests):
                for name, call in calls.items():
                    in_aws[0] = 0.0
                    started = time.perf_counter()
                    reply = call()
                    elapsed = (time.perf_counter() - started) * 1000
                    samples[name].append(elapsed)
                    if name in own:
                        own[name].append(elapsed - in_aws[0] * 1000)
                    assert reply.status_code == 200, (name, reply.body)


# --------------------------------------------------------------------------- table


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def table(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str, str]] = []
    cold = results.get("cold_import")
    if cold:
        rows.append(("cold_import", "import app (fastest CPU ms)", _fmt(cold["app_ms"]), ""))
        rows.append(("", "third-party deps only (fastest CPU ms)", _fmt(cold["dependencies_ms"]), ""))
        rows.append(("", "ratio app / deps", _fmt(cold["ratio"]), "floor 1.0"))
    for name, figures in (results.get("aws_calls") or {}).items():
        if figures.get("calls") is None:
            rows.append(("aws_calls" if not rows or rows[-1][0] != "" else "", name, "-", figures.get("status", "")))
            continue
        floor = figures.get("floor")
        rows.append(("aws_calls", name, _fmt(figures["calls"]), f"floor {_fmt(floor)}"))
    memory = results.get("export_memory") or {}
    if "growth" in memory:
        for rows_count, peak in memory.get("peak_mib", {}).items():
            rows.append(("export_memory", f"peak MiB, {rows_count} rows", _fmt(peak), ""))
        rows.append(("", "growth (100k / 10k)", _fmt(memory["growth"]), "rows grew x10"))
    elif memory:
        rows.append(("export_memory", "peak MiB", "-", memory.get("status", "")))
    latency = results.get("api_latency")
    if latency:
        for name in ("bare", "read", "write"):
            figures = latency[name]
            ratio = (
                ""
                if name == "bare"
                else f"x{figures['median_ratio']} / x{figures['p99_ratio']} of bare"
                + (
                    f"; x{figures['median_ratio_without_aws']} without AWS time"
                    if "median_ratio_without_aws" in figures
                    else ""
                )
            )
            rows.append(
                ("api_latency", f"{name} median / p99 ms", f"{figures['median_ms']} / {figures['p99_ms']}", ratio)
            )
    # Collapse repeated part names.
    shown, previous = [], None
    for part, figure, value, note in rows:
        shown.append(("" if part == previous else part, figure, value, note))
        previous = part or previous
    widths = [max(len(row[i]) for row in [("part", "figure", "value", "floor / ratio"), *shown]) for i in range(4)]
    header = ("part", "figure", "value", "floor / ratio")
    lines = [" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(header))]
    lines.append("-|-".join("-" * width for width in widths))
    lines += [" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in shown]
    return "\n".join(line.rstrip() for line in lines)


# --------------------------------------------------------------------------- main


def write(results: dict[str, Any], output: Path) -> dict[str, Any]:
    ordered = {key: results[key] for key in ("generated_at", "environment", *PARTS) if key in results}
    output.write_text(json.dumps(ordered, indent=2) + "\n")
    return ordered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", default="", help=f"comma-separated parts of {', '.join(PARTS)}")
    parser.add_argument("--import-runs", type=int, default=int(os.environ.get("BENCH_IMPORT_RUNS", "21")))
    parser.add_argument("--latency-requests", type=int, default=int(os.environ.get("BENCH_LATENCY_REQUESTS", "300")))
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--export-results",
        type=Path,
        help="reuse a saved bench/export_memory.json instead of running the (long) export measurement",
    )
    args = parser.parse_args(argv)
    parts = [part for part in args.only.split(",") if part] or list(PARTS)
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts: {sorted(unknown)}")

    if args.export_results:
        os.environ["BENCH_EXPORT_RESULTS"] = str(args.export_results.resolve())
    results: dict[str, Any] = {}
    if args.only and args.output.exists():
        results = json.loads(args.output.read_text())
    results["generated_at"] = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    results["environment"] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }
    order = ("cold_import", "api_latency", "aws_calls", "capacity", "export_memory")  # the long export run last
    for part in sorted(parts, key=order.index):
        print(f"measuring {part}...", file=sys.stderr, flush=True)
        if part == "cold_import":
            results[part] = cold_import(args.import_runs)
        elif part == "aws_calls":
            results[part] = aws_calls()
        elif part == "export_memory":
            results[part] = export_memory()
        elif part == "api_latency":
            results[part] = api_latency(args.latency_requests)
        elif part == "capacity":  # WRU, hottest key, SQS requests and dollars (bench/capacity.py)
            results[part] = capacity.save(capacity.measure())
        write(results, args.output)  # what is measured is kept, whatever comes next
    ordered = write(results, args.output)
    print(table(ordered))
    if ordered.get("capacity"):
        print("\n" + capacity.table(ordered["capacity"], capacity.load(capacity.BEFORE)))
    print(f"\nwritten to {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
