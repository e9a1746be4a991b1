"""The embedded AWS: moto's server in a child process, on a free port, with fake credentials.

Nothing reaches a real account: the credentials are fake and every client of the
code is pointed at the emulator through ``VALHALLA_AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}
UNSET_FOR_SAFETY = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI")


class Environment:
    """Changes to ``os.environ`` that can be undone (a stack started inside tests leaves no trace)."""

    def __init__(self) -> None:
        self._saved: dict[str, str | None] = {}

    def set(self, name: str, value: str) -> None:
        self._saved.setdefault(name, os.environ.get(name))
        os.environ[name] = value

    def default(self, name: str, value: str) -> None:
        if not os.environ.get(name):
            self.set(name, value)

    def unset(self, name: str) -> None:
        self._saved.setdefault(name, os.environ.get(name))
        os.environ.pop(name, None)

    def update_defaults(self, values: Mapping[str, str]) -> None:
        for name, value in values.items():
            self.default(name, value)

    def restore(self) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved.clear()


class EmbeddedAws:
    """moto's server in a child process, so that the emulator and the app each get a core.

    In one process the API, the pumps and the emulator share one interpreter lock,
    and a soak of a few thousand notifications is then bound by a single core.
    """

    START_SECONDS = 60.0

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.endpoint_url = ""
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        port = self.port or _free_port(self.host)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.endpoint_url = f"http://{self.host}:{port}"
        deadline = time.monotonic() + self.START_SECONDS
        while True:
            if self._process.poll() is not None:
                raise OSError(f"the embedded AWS could not start on {self.host}:{port} (is the port taken?)")
            try:
                urllib.request.urlopen(f"{self.endpoint_url}/moto-api/", timeout=2).close()
                return self.endpoint_url
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise OSError(f"the embedded AWS did not answer on {self.endpoint_url}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def point_at(environment: Environment, endpoint_url: str) -> None:
    """Fake credentials and the emulator's endpoint for every client built from now on."""
    for name, value in FAKE_CREDENTIALS.items():
        environment.set(name, value)
    for name in UNSET_FOR_SAFETY:
        environment.unset(name)
    if not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")):
        environment.set("AWS_DEFAULT_REGION", "us-east-1")
    environment.set("VALHALLA_AWS_ENDPOINT_URL", endpoint_url)
