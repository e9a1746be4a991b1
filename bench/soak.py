"""``make soak``: a few thousand notifications through the whole system, with a receiver that fails.

Starts the local stack (embedded AWS, the API over HTTP, the queue pumps and the
scheduler) and a webhook receiver on 127.0.0.1 that answers 500 to a fixed share of
requests; enqueues notifications from several threads through the API; waits until
every accepted one is delivered or failed (or the time bound runs out); reports

- ``accepted``: 201 answers to ``POST /system/notify``;
- ``delivered``: distinct ``webhook-id``\\ s the receiver answered 2xx;
- ``duplicates``: 2xx answers for a ``webhook-id`` already delivered (at-least-once);
- ``failed``: notifications the system reports ``failed``;
- ``lost``: accepted, yet neither delivered, failed nor still pending (must be 0);
- ``drain_seconds``: from the first enqueue until every notification had settled.

Against a deployed stage: ``--url https://.../api --token vk_... --receiver-url https://...``
where the receiver URL reaches this machine's receiver (a tunnel); the receiver still
listens on 127.0.0.1 only. Results go to ``bench/soak.json``; the exit status is 1 when
anything is lost or the run did not drain in time.

    python -m bench.soak                         # 2,000 notifications, 8 threads, 20 % failures
    python -m bench.soak --count 5000 --fail-every 4
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "bench" / "soak.json"
LOCAL_ENV = {
    "VALHALLA_RETRY_SCHEDULE": "1,1,2,2,3,3",  # seconds: retries come round quickly in a soak
    "VALHALLA_ALLOW_PRIVATE_WEBHOOK_TARGETS": "true",
    "VALHALLA_API_RATE_LIMIT_PER_MINUTE": "1000000",  # one key enqueues thousands a minute
    "VALHALLA_LOG_LEVEL": "ERROR",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "VALHALLA_WEBHOOK_TIMEOUT_SECONDS": "5",
    "POWERTOOLS_METRICS_DISABLED": "true",
}


# --------------------------------------------------------------------------- the receiver


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: int = 0
    refused: int = 0
    delivered: dict[str, int] = field(default_factory=dict)  # webhook-id -> 2xx answers
    last_delivery: float = 0.0

    @property
    def duplicates(self) -> int:
        return sum(count - 1 for count in self.delivered.values())


class FailingReceiver:
    """Answers 500 to every ``fail_every``-th request, 200 to the others; counts by webhook-id."""

    def __init__(self, fail_every: int) -> None:
        self.fail_every = fail_every
        self.tally = Tally()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                webhook_id = self.headers.get("webhook-id") or ""
                with receiver.tally.lock:
                    receiver.tally.requests += 1
                    fail = receiver.fail_every > 0 and receiver.tally.requests % receiver.fail_every == 0
                    if fail:
                        receiver.tally.refused += 1
                    else:
                        receiver.tally.delivered[webhook_id] = receiver.tally.delivered.get(webhook_id, 0) + 1
                        receiver.tally.last_delivery = time.monotonic()
                body = b"try again" if fail else b"ok"
                self.send_response(500 if fail else 200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="soak-receiver", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/soak"

    def start(self) -> FailingReceiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------- the API


class Api:
    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"authorization": f"Bearer {self.token}", "content-type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (our own API)
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def all_ids(self, status: str, channel_id: int) -> set[int]:
        ids: set[int] = set()
        cursor = None
        while True:
            path = f"/system/notify?status={status}&channel_id={channel_id}&limit=100"
            code, page = self.call("GET", path + (f"&cursor={cursor}" if cursor else ""))
            if code != 200:
                raise RuntimeError(f"listing {status} notifications: {code} {page}")
            ids |= {int(item["id"]) for item in page["items"]}
            cursor = page["next_cursor"]
            if not cursor:
                return ids


# --------------------------------------------------------------------------- the run


def soak(api: Api, receiver: FailingReceiver, receiver_url: str, args: argparse.Namespace) -> dict[str, Any]:
    name = f"soak-{int(time.time())}"
    code, channel = api.call(
        "POST", "/system/notify/channels", {"name": name, "channel_type": "webhook", "target": receiver_url}
    )
    if code != 201:
        raise RuntimeError(f"could not create the soak channel: {code} {channel}")
    channel_id = int(channel["id"])

    accepted: list[int] = []
    refused: list[int] = []
    lock = threading.Lock()

    def send(index: int) -> None:
        code, body = api.call(
            "POST", "/system/notify", {"channel_id": channel_id, "subject": f"soak {index}", "body": "soak"}
        )
        with lock:
            (accepted if code == 201 else refused).append(int(body["id"]) if code == 201 else code)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.threads) as pool:
        list(pool.map(send, range(args.count)))
    enqueue_seconds = time.monotonic() - started
    print(f"enqueued {len(accepted)} in {enqueue_seconds:.1f} s ({len(refused)} refused)", file=sys.stderr)

    expected = {f"msg_{args.stage}_{notification_id}": notification_id for notification_id in accepted}
    deadline = started + args.timeout
    drained_at = None
    while time.monotonic() < deadline:
        with receiver.tally.lock:
            delivered_ids = {expected[key] for key in receiver.tally.delivered if key in expected}
        unsettled = set(accepted) - delivered_ids
        if unsettled:
            unsettled -= api.all_ids("failed", channel_id)
        if not unsettled:
            drained_at = time.monotonic()
            break
        print(f"  {len(delivered_ids)} delivered, {len(unsettled)} to go", file=sys.stderr)
        time.sleep(args.poll)

    # Ask the system first, the receiver second: a notification delivered in between is
    # "pending" in the first answer and delivered in the second, never counted lost.
    failed = api.all_ids("failed", channel_id)
    pending = api.all_ids("pending", channel_id)
    with receiver.tally.lock:
        delivered_keys = [key for key in receiver.tally.delivered if key in expected]
        duplicates = sum(receiver.tally.delivered[key] - 1 for key in delivered_keys)
        answered = receiver.tally.requests
        answered_500 = receiver.tally.refused
    not_delivered = set(accepted) - {expected[key] for key in delivered_keys}
    lost = sorted(not_delivered - failed - pending)
    return {
        "target": "local stack" if args.url is None else args.url,
        "count": args.count,
        "threads": args.threads,
        "receiver_fails_every": args.fail_every,
        "retry_schedule": LOCAL_ENV["VALHALLA_RETRY_SCHEDULE"] if args.url is None else "the stage's",
        "accepted": len(accepted),
        "refused_at_enqueue": len(refused),
        "delivered": len(delivered_keys),
        "duplicates": duplicates,
        "failed": len(failed & set(accepted)),
        "still_pending": len(pending & set(accepted)),
        "lost": len(lost),
        "lost_ids": lost[:20],
        "receiver_requests": answered,
        "receiver_answered_500": answered_500,
        "enqueue_seconds": round(enqueue_seconds, 1),
        "drained": drained_at is not None,
        "drain_seconds": round(drained_at - started, 1) if drained_at is not None else None,
    }


def quiet(line: str) -> None:
    """The stack's banner, not a line per queue batch."""
    if not line.startswith(("sqs ", "schedule ")):
        print(line, file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.splitlines()[0] if __doc__ else ""
    )
    parser.add_argument("--count", type=int, default=2000, help="notifications to enqueue (default 2000)")
    parser.add_argument("--threads", type=int, default=8, help="enqueueing threads (default 8)")
    parser.add_argument("--fail-every", type=int, default=5, help="the receiver answers 500 to every n-th request")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the drain (default 1800)")
    parser.add_argument("--poll", type=float, default=2.0, help=argparse.SUPPRESS)
    parser.add_argument("--url", help="a deployed stage's base URL (default: start the local stack)")
    parser.add_argument("--token", help="an operator or admin API key for --url")
    parser.add_argument("--stage", default=None, help="the stage name in webhook-ids (default: local, or from --url)")
    parser.add_argument("--receiver-url", help="public URL reaching the local receiver (needed with --url)")
    parser.add_argument("--output", type=Path, default=RESULT)
    args = parser.parse_args(argv)
    if args.url and not (args.token and args.receiver_url and args.stage):
        parser.error("--url needs --token, --stage and --receiver-url")
    args.count = max(1, min(args.count, 100_000))

    receiver = FailingReceiver(args.fail_every).start()
    stack = None
    try:
        if args.url is None:
            # The stack in its own process (and its emulator in another): the soak's
            # client threads and receiver do not compete with it for one interpreter.
            sys.path.insert(0, str(ROOT))
            from chalicelib.local.process import StackProcess

            stack = StackProcess(env=LOCAL_ENV).start()
            api = Api(stack.base_url, stack.admin_token)
            args.stage = args.stage or "local"
            target = receiver.url
        else:
            api = Api(args.url, args.token)
            target = args.receiver_url
        figures = soak(api, receiver, target, args)
    finally:
        if stack is not None:
            stack.stop()
        receiver.stop()

    args.output.write_text(json.dumps(figures, indent=2) + "\n")
    width = max(len(key) for key in figures)
    for key, value in figures.items():
        print(f"{key.ljust(width)}  {value}")
    print(f"written to {args.output}")
    return 0 if figures["lost"] == 0 and figures["drained"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
