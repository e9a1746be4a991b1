"""``python -m chalicelib.local [--host H] [--port N]``: run the local stack until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.local", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("PORT") or 8000), help="port (default $PORT or 8000; 0: any)"
    )
    parser.add_argument("--stage", default="local", help="the .chalice/config.json stage to emulate")
    parser.add_argument("--aws-port", type=int, default=0, help="port of the embedded AWS (default: any free one)")
    args = parser.parse_args(argv)

    stopping = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    from chalicelib.local.stack import LocalStack, print_line

    stack = LocalStack(host=args.host, port=args.port, stage=args.stage, aws_port=args.aws_port)
    try:
        stack.start()
    except OSError as exc:
        print(f"Cannot start the local stack: {exc} (is the port in use? try --port)", file=sys.stderr)
        return 1
    try:
        while not stopping.wait(1):
            pass
    finally:
        print_line("Stopping: queue pumps, scheduler, HTTP server, embedded AWS")
        stack.stop()
        print_line("Stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
