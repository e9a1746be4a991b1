"""A receiver that answers one header line at a time, slowly: each read returns in time, the answer never ends.

    with TricklingReceiver(lines=100, interval=0.1) as receiver:
        ... POST to receiver.url ...
    receiver.hung_up  # the client closed the connection before the answer was complete

Real sockets on 127.0.0.1; every wait is cut short when the receiver stops.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType


class TricklingReceiver:
    def __init__(self, lines: int = 100, interval: float = 0.1) -> None:
        self.lines = lines
        self.interval = interval
        self.requests = 0
        self.lines_sent = 0
        self.hung_up = False
        self.finished = threading.Event()
        self._stop = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._serve, name="trickle", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.getsockname()[:2]
        return f"http://{host}:{port}/hook"

    def __enter__(self) -> TricklingReceiver:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._server.close()
        self._thread.join(10)

    def _serve(self) -> None:
        try:
            connection, _ = self._server.accept()
        except OSError:
            return
        with connection:
            self.requests += 1
            self._read_request(connection)
            self._trickle(connection)
        self.finished.set()

    def _read_request(self, connection: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")),
            0,
        )
        while len(body) < length:
            chunk = connection.recv(65536)
            if not chunk:
                return
            body += chunk

    def _trickle(self, connection: socket.socket) -> None:
        try:
            connection.sendall(b"HTTP/1.1 200 OK\r\n")
            for number in range(self.lines):
                if self._stop.wait(self.interval):
                    return
                connection.sendall(f"X-Trickle-{number}: still here\r\n".encode())
                self.lines_sent += 1
            connection.sendall(b"Content-Length: 2\r\nConnection: close\r\n\r\nok")
        except OSError:
            self.hung_up = True
