"""The app does not start on a malformed setting, and says which one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_app_refuses_to_start_on_a_bad_value() -> None:
    env = {"PATH": "", "VALHALLA_LEASE_SECONDS": "soon", "AWS_DEFAULT_REGION": "us-east-1"}
    done = subprocess.run(
        [sys.executable, "-c", "import app"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode != 0
    assert "VALHALLA_LEASE_SECONDS='soon': expected a whole number" in done.stderr
