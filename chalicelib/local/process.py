"""``python -m chalicelib.local`` in a child process, for end-to-end tests and soak runs::

with StackProcess() as stack:
    requests.get(stack.base_url + "/system/health", headers=stack.auth_header)
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from chalicelib.local.stack import PROJECT_DIR

LISTENING = re.compile(r"listening on (http://\S+?)(?:\s|$)")


class StackProcess:
    def __init__(
        self,
        *,
        admin_token: str | None = None,
        env: Mapping[str, str] | None = None,
        args: tuple[str, ...] = ("--port", "0"),
        cwd: Path = PROJECT_DIR,
        start_timeout: float = 120.0,
    ) -> None:
        self.admin_token = admin_token or "vk_" + secrets.token_urlsafe(24)
        self.env = {**os.environ, **(env or {}), "VALHALLA_ADMIN_TOKEN": self.admin_token, "PYTHONUNBUFFERED": "1"}
        self.args = args
        self.cwd = cwd
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[str] | None = None
        self.base_url = ""
        self.output: list[str] = []
        self._drain: threading.Thread | None = None

    @property
    def auth_header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def start(self) -> StackProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chalicelib.local", *self.args],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        watchdog = threading.Timer(self.start_timeout, self.process.kill)  # a hung start fails, not blocks
        watchdog.start()
        try:
            first = self._read_until_listening()
        finally:
            watchdog.cancel()
        match = LISTENING.search(first)
        if not match:
            self.stop()
            raise RuntimeError("the local stack did not start:\n" + "".join(self.output))
        self.base_url = match.group(1)
        self._drain = threading.Thread(target=self._collect, daemon=True)
        self._drain.start()
        return self

    def _read_until_listening(self) -> str:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            if LISTENING.search(line):
                return line
        return ""

    def _collect(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then the exit code (0 for a clean stop)."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        if self._drain is not None:
            self._drain.join(5)
        return code

    def __enter__(self) -> StackProcess:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
