"""What channel health and the rate limits cost in DynamoDB writes (``make bench``, aws_calls part).

    python -m bench.health_costs      # these figures alone

- per delivery: the worker delivers batches of 10 through the guard (breaker state
  read through its cache, window counters of successes held and written once per
  channel per ``VALHALLA_TALLY_FLUSH_SECONDS``, the token bucket leased in blocks),
  against the same deliveries without the guard; what the worker still holds at the
  end (its next batch would write it) is written and counted;
- per API request: the key's minute window (one conditional UpdateItem per leased block), against the
  same requests with the limiter switched off.
"""

from __future__ import annotations

import json
from typing import Any

REPEAT = 100
BATCH = 10
WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")


def _writes(by_api: dict[str, int]) -> int:
    return sum(count for name, count in by_api.items() if name.startswith("dynamodb.") and name.split(".")[1] in WRITES)


def _deliver_batches(counter: Any, rate_limit: int | None, guarded: bool) -> dict[str, Any]:
    from chalicelib.deps import get_deps
    from chalicelib.domain.common import SYSTEM_PRINCIPAL
    from chalicelib.domain.notifications import ChannelType, CreateChannel, EnqueueNotification
    from chalicelib.services.notifications import Notifications
    from chalicelib.workers import notifications as worker

    deps = get_deps()
    name = f"bench-health-{rate_limit}-{guarded}"
    channel = deps.notifications.create_channel(
        CreateChannel(
            name=name, channel_type=ChannelType.email, target="ops@example.com", rate_limit_per_second=rate_limit
        )
    )
    service = Notifications(deps.settings, deps.clock, deps.ids, guard=deps.delivery_guard if guarded else None)
    ids = [
        service.enqueue(EnqueueNotification(channel_id=channel.id, subject=f"h{i}", body="b"), SYSTEM_PRINCIPAL).id
        for i in range(REPEAT)
    ]
    records = [
        {
            "messageId": str(i),
            "receiptHandle": "-",
            "body": json.dumps({"id": i}),
            "attributes": {},
            "eventSource": "aws:sqs",
        }
        for i in ids
    ]
    with counter.measure() as calls:
        for start in range(0, REPEAT, BATCH):
            result = worker.deliver(records[start : start + BATCH], service=service)
            assert result["batchItemFailures"] == [], result
        worker.write_held_tallies()
    by_api = calls.as_dict()
    return {"writes": _writes(by_api), "by_api": by_api}


def delivery_writes(counter: Any) -> dict[str, Any]:
    """Extra DynamoDB writes per delivery that health and the channel rate limit add."""
    bare = _deliver_batches(counter, None, guarded=False)
    healthy = _deliver_batches(counter, None, guarded=True)
    limited = _deliver_batches(counter, 1000, guarded=True)
    extra = (healthy["writes"] - bare["writes"]) / REPEAT
    extra_limited = (limited["writes"] - bare["writes"]) / REPEAT
    return {
        "calls": round(extra, 3),
        "floor": round(1 / REPEAT, 3),
        "floor_note": f"one window-counter write per channel per flush interval (here: {REPEAT} deliveries)",
        "writes_per_delivery_without_health": round(bare["writes"] / REPEAT, 3),
        "writes_per_delivery_with_health": round(healthy["writes"] / REPEAT, 3),
        "extra_writes_per_delivery_rate_limited_1000_per_s": round(extra_limited, 3),
        "by_api_with_health": {k: round(v / REPEAT, 3) for k, v in sorted(healthy["by_api"].items())},
        "by_api_rate_limited": {k: round(v / REPEAT, 3) for k, v in sorted(limited["by_api"].items())},
        "deliveries": REPEAT,
    }


def api_request_writes(counter: Any) -> dict[str, Any]:
    """Extra DynamoDB writes per API request that the key's rate limit adds (a GET writes nothing else)."""
    from chalice.test import Client

    import chalicelib.http as http
    from app import app
    from bench.env import ROOT, admin_token
    from chalicelib.services.ratelimit import lease_block
    from chalicelib.settings import get_settings

    headers = {"authorization": f"Bearer {admin_token()}"}

    def run() -> int:
        with Client(app, stage_name="local", project_dir=str(ROOT)) as client, counter.measure() as calls:
            for _ in range(REPEAT):
                reply = client.http.get("/system/notify/channels", headers=headers)
                assert reply.status_code == 200, reply.body
        return _writes(calls.as_dict())

    limited = run()
    original = http.rate_limit
    http.rate_limit = lambda principal: {}  # type: ignore[assignment]
    try:
        bare = run()
    finally:
        http.rate_limit = original
    return {
        "calls": round((limited - bare) / REPEAT, 3),
        "floor": round(1 / lease_block(get_settings().api_rate_limit_per_minute), 3),
        "floor_note": "one conditional UpdateItem per block of requests leased on the key's minute window",
        "writes_per_request_with_limit": round(limited / REPEAT, 3),
        "writes_per_request_without_limit": round(bare / REPEAT, 3),
        "requests": REPEAT,
    }


OPERATIONS = {"health_delivery_writes": delivery_writes, "ratelimit_api_request_writes": api_request_writes}


def main() -> None:
    """``python -m bench.health_costs``: these figures alone (``make bench`` includes them under aws_calls)."""
    from bench.aws_calls import AwsCallCounter
    from bench.env import emulated_aws

    for name, operation in OPERATIONS.items():
        with emulated_aws(), AwsCallCounter() as counter:
            print(name, json.dumps(operation(counter), indent=2))


if __name__ == "__main__":
    main()
