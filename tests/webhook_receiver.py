"""A real HTTP webhook receiver on 127.0.0.1, for tests: records requests, answers from a script.

    with WebhookReceiver() as receiver:
        receiver.script(Response(500), Response(500))   # then 200 for the rest
        ... deliver to receiver.url("/hook") ...
        assert receiver.requests[-1].header("webhook-id")

Scripted answers are used in order, one per request; when the script runs out the
``default`` answer is used. ``Response(delay=...)`` answers late (a slow receiver);
the wait is cut short when the receiver stops, so a test never hangs on it.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Response:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Response:
        return cls(status, {"Location": location}, b"")

    @classmethod
    def too_many(cls, retry_after: int | str, status: int = 429) -> Response:
        return cls(status, {"Retry-After": str(retry_after)}, b"slow down")


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int
    at: float = 0.0  # time.time() when the request arrived

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    def __init__(self, default: Response | None = None) -> None:
        self.default = default or Response(200)
        self._script: deque[Response] = deque()
        self._requests: list[Recorded] = []
        self._lock = threading.Condition()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                receiver._handle(self)

            do_PUT = do_GET = do_DELETE = do_PATCH = do_POST  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="webhook-receiver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- configuration and inspection ---

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the receiver first"
        return int(self._server.server_address[1])

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, *responses: Response) -> WebhookReceiver:
        with self._lock:
            self._script.extend(responses)
        return self

    def fail_times(self, count: int, status: int = 500) -> WebhookReceiver:
        return self.script(*[Response(status, body=b"receiver error")] * count)

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Recorded]:
        """Block until ``count`` requests have been answered (or raise after ``timeout``)."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._requests) >= count, timeout=timeout):
                raise AssertionError(f"expected {count} requests, got {len(self._requests)}")
            return list(self._requests)

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._script.clear()

    # --- serving ---

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        with self._lock:
            answer = self._script.popleft() if self._script else self.default
        recorded = Recorded(
            method=handler.command,
            path=handler.path,
            headers={name.lower(): value for name, value in handler.headers.items()},
            body=body,
            answered=answer.status,
            at=time.time(),
        )
        with self._lock:  # recorded before answering: a client that got its answer sees the request here
            self._requests.append(recorded)
            self._lock.notify_all()
        if answer.delay:
            self._stopping.wait(answer.delay)
        try:
            handler.send_response(answer.status)
            for name, value in answer.headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(answer.body)))
            handler.end_headers()
            handler.wfile.write(answer.body)
        except OSError:
            pass  # the client gave up (a timeout test)
