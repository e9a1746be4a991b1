"""One synthesis of each stage per test run, shared by every infrastructure test.

The CDK app runs as ``make synth`` runs it (``python infra/app.py``), in a child
process with no AWS credentials, into a temporary directory: the tests check the
current code, never a stale ``infra/cdk.out``. Under pytest-xdist the first worker
synthesizes and the others wait on a lock and read the same output.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support import ROOT

INFRA = ROOT / "infra"
# After the repository root: ``import app`` is the Chalice app, not infra/app.py.
if str(INFRA) not in sys.path:
    sys.path.append(str(INFRA))

STAGES = ("dev", "prod")


@dataclass(frozen=True)
class Synthesized:
    stage: str
    outdir: Path

    @property
    def template_path(self) -> Path:
        return self.outdir / f"{self.stage}.template.json"

    @property
    def template(self) -> dict[str, Any]:
        return json.loads(self.template_path.read_text())


def _synthesize(stage: str, outdir: Path) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "VALHALLA_", "CDK_"))}
    env.update({"CDK_OUTDIR": str(outdir), "STAGE": stage, "AWS_DEFAULT_REGION": "us-east-1"})
    result = subprocess.run(
        [sys.executable, str(INFRA / "app.py")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    if result.returncode != 0:
        raise AssertionError(f"synthesis of {stage} failed:\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}")


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Synthesized]]:
    # Under xdist each worker's base temp directory sits in one directory of this run.
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "infra-synth"
    shared.mkdir(exist_ok=True)
    outputs = {stage: Synthesized(stage, shared / stage) for stage in STAGES}
    with open(shared / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            for stage, output in outputs.items():
                if not output.template_path.exists():
                    _synthesize(stage, output.outdir)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    yield outputs


def expand(template: dict[str, Any]) -> dict[str, Any]:
    """The resources CloudFormation creates: the template after the SAM transform, offline."""
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    saved = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    try:
        return dict(transform(json.loads(json.dumps(template)), {}, NoManagedPolicies()))
    finally:
        if saved is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = saved


@pytest.fixture(scope="session")
def deployed(synthesized: dict[str, Synthesized]) -> dict[str, dict[str, Any]]:
    return {stage: expand(output.template) for stage, output in synthesized.items()}


@pytest.fixture(scope="session")
def dev(synthesized: dict[str, Synthesized]) -> dict[str, Any]:
    return synthesized["dev"].template


@pytest.fixture(scope="session")
def prod(synthesized: dict[str, Synthesized]) -> dict[str, Any]:
    return synthesized["prod"].template
