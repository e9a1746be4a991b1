"""Item 17: checkov, an outside scanner, finds nothing in the synthesized templates.

The templates are the ones tests/infra already synthesized (no second synthesis).
checkov runs offline from its own venv (``make test`` installs it in .venv/checkov,
because its pinned dependencies conflict with the app's) with the committed
infra/checkov.yaml. A deliberate exception is a skip in the template's metadata with
its reason (infra/stacks/checkov.py), never a flag on the command line.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from stacks.checkov import EXCEPTIONS

from tests.infra.conftest import Synthesized
from tests.support import ROOT

CHECKOV = Path(os.environ.get("CHECKOV", ROOT / ".venv" / "checkov" / "bin" / "checkov"))


@pytest.fixture(scope="module")
def report(synthesized: dict[str, Synthesized]) -> list[dict[str, Any]]:
    assert CHECKOV.exists(), f"checkov is not installed at {CHECKOV}: run `make .venv/checkov/.installed`"
    command = [str(CHECKOV), "--config-file", str(ROOT / "infra" / "checkov.yaml")]
    for output in synthesized.values():
        command += ["-f", str(output.template_path)]
    # No network: no guideline download, no version check, no telemetry.
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_SKIP_DOWNLOAD": "TRUE", "ENABLE_OPENAI": "FALSE"}
    env.pop("BC_API_KEY", None)
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    assert result.stdout.strip(), result.stderr[-4000:]
    parsed = json.loads(result.stdout)
    return parsed if isinstance(parsed, list) else [parsed]


def test_item17_checkov_finds_nothing_in_either_stage(report: list[dict[str, Any]]) -> None:
    (cloudformation,) = [run for run in report if run["check_type"] == "cloudformation"]
    summary = cloudformation["summary"]
    failed = [
        f"{check['check_id']} {check['resource']}: {check['check_name']}"
        for check in cloudformation["results"]["failed_checks"]
    ]
    assert failed == []
    assert summary["parsing_errors"] == 0 and summary["passed"] > 0


def test_item17_every_exception_carries_its_reason(report: list[dict[str, Any]]) -> None:
    (cloudformation,) = [run for run in report if run["check_type"] == "cloudformation"]
    skipped = cloudformation["results"]["skipped_checks"]
    assert skipped
    reasons = {check: reason for by_type in EXCEPTIONS.values() for check, reason in by_type.items()}
    for check in skipped:
        assert check["check_id"] in reasons, check["check_id"]
        assert check["check_result"]["suppress_comment"] == reasons[check["check_id"]]
