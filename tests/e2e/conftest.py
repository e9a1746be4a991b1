"""End-to-end tests: the local stack in a child process, driven over HTTP by the CLI and a browser.

One stack per module (starting one takes a second or two). Headless Chromium and its
driver come from Debian (``chromium``, ``chromium-driver``); when missing they are
installed here with apt-get, as CI (root, a fresh machine) needs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.local.process import StackProcess

ROOT = Path(__file__).resolve().parents[2]
STACK_ENV = {
    "VALHALLA_ALLOW_PRIVATE_WEBHOOK_TARGETS": "true",
    "VALHALLA_RETRY_SCHEDULE": "1,1,1",
    "VALHALLA_MAINTENANCE_CACHE_SECONDS": "0",
}


@pytest.fixture(scope="module")
def stack() -> Iterator[StackProcess]:
    with StackProcess(env=STACK_ENV) as running:
        yield running


def chromium_paths() -> tuple[str | None, str | None]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None
    )
    return browser, driver


def ensure_chromium() -> tuple[str, str]:
    """Debian's chromium and chromium-driver, installed with apt-get when missing (needs root)."""
    browser, driver = chromium_paths()
    if browser and driver:
        return browser, driver
    if os.geteuid() != 0:
        raise RuntimeError("headless Chromium is missing: run `sudo apt-get install -y chromium chromium-driver`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", "chromium", "chromium-driver"],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    browser, driver = chromium_paths()
    if not (browser and driver):
        raise RuntimeError("apt-get installed chromium but its binaries were not found")
    return browser, driver
