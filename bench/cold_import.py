"""Cold import: ``import app`` in a fresh interpreter against importing only the
third-party modules it loads. The difference is this project's own import work, which
every Lambda cold start pays."""

from __future__ import annotations

import compileall
import json
import os
import statistics
import subprocess
import sys
from typing import Any

from bench.env import FAKE_AWS_ENV, ROOT

_IMPORT_APP = r"""
import json, sys, time
before = set(sys.modules)
started, cpu = time.perf_counter(), time.process_time()
import app  # noqa
elapsed, cpu = (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000
own = ("app", "chalicelib", "bench", "tests")
loaded = [name for name in sys.modules if name not in before]
third_party = [
    name for name in loaded
    if name.split(".")[0] not in sys.stdlib_module_names and name.split(".")[0] not in own
]
print(json.dumps({"ms": elapsed, "cpu_ms": cpu, "modules": third_party}))
"""

_IMPORT_DEPS = r"""
import importlib, json, sys, time
names = json.loads(sys.argv[1])
started, cpu = time.perf_counter(), time.process_time()
for name in names:
    try:
        importlib.import_module(name)
    except Exception:
        pass
elapsed, cpu = (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000
print(json.dumps({"ms": elapsed, "cpu_ms": cpu}))
"""


def _child(code: str, *args: str) -> dict[str, Any]:
    env = {**os.environ, **FAKE_AWS_ENV, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def cold_import(runs: int) -> dict[str, Any]:
    """CPU ms to ``import app`` in a fresh interpreter, against importing only the
    third-party modules that import loads (the same modules, in the same order).

    The ratio is taken on CPU time: wall time on a shared machine also counts the time
    other processes held the CPU, which moves the ratio by more than the project's import."""
    # The dependencies' bytecode was compiled when pip installed them; compile the project's
    # too, or a shell with PYTHONDONTWRITEBYTECODE set would charge it a compile per run.
    compileall.compile_file(ROOT / "app.py", quiet=1)
    compileall.compile_dir(ROOT / "chalicelib", quiet=1)
    first = _child(_IMPORT_APP)
    modules = json.dumps(first["modules"])
    _child(_IMPORT_DEPS, modules)
    app_runs, deps_runs = [], []
    for _ in range(runs):  # interleaved, so drift hits both alike
        app_runs.append(_child(_IMPORT_APP))
        deps_runs.append(_child(_IMPORT_DEPS, modules))

    def median(samples: list[dict[str, Any]], key: str) -> float:
        return statistics.median(sample[key] for sample in samples)

    def fastest(samples: list[dict[str, Any]]) -> float:
        return min(sample["cpu_ms"] for sample in samples)

    app_median, deps_median = median(app_runs, "cpu_ms"), median(deps_runs, "cpu_ms")
    # Other processes only ever add time: the fastest run of each kind is the closest to
    # its own cost (timeit's rule), and the ratio of the two holds still on a busy machine.
    app_best, deps_best = fastest(app_runs), fastest(deps_runs)
    packages = sorted({name.split(".")[0] for name in first["modules"]})
    return {
        "runs": runs,
        "app_ms": round(app_best, 1),
        "dependencies_ms": round(deps_best, 1),
        "ratio": round(app_best / deps_best, 3),
        "app_median_ms": round(app_median, 1),
        "dependencies_median_ms": round(deps_median, 1),
        "median_ratio": round(app_median / deps_median, 3),
        "app_wall_ms": round(median(app_runs, "ms"), 1),
        "dependencies_wall_ms": round(median(deps_runs, "ms"), 1),
        "dependency_packages": packages,
        "dependency_modules": len(first["modules"]),
    }
