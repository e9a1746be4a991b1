"""The embedded AWS: moto's server in this process, on a free port, with fake credentials.

Nothing reaches a real account: the credentials are fake and every client of the
code is pointed at the emulator through ``VALHALLA_AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import logging
import os
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
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self.endpoint_url = ""

    def start(self) -> str:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        # moto keeps its state per process: start from an empty account, as a new stack should.
        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")).close()
        return self.endpoint_url

    def stop(self) -> None:
        self._server.stop()


def point_at(environment: Environment, endpoint_url: str) -> None:
    """Fake credentials and the emulator's endpoint for every client built from now on."""
    for name, value in FAKE_CREDENTIALS.items():
        environment.set(name, value)
    for name in UNSET_FOR_SAFETY:
        environment.unset(name)
    if not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")):
        environment.set("AWS_DEFAULT_REGION", "us-east-1")
    environment.set("VALHALLA_AWS_ENDPOINT_URL", endpoint_url)
