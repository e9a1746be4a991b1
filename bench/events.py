"""What emitting an event costs, and how its keys spread: ``python -m bench.events [--events N]``.

In moto, in process: three channels, a subscription with two of them on ``*`` and one
with the third on ``export.*``. It emits N ``key.created`` events (two targets each)
and prints the AWS calls per event by API against the floor (event put + completion
update, and per target a marker put, an outbox put and an SQS send; the channel
reads are extra until channels are cached), then the busiest partition key's share of
the event log's index writes, in this run and over 100,000 fresh ids, and what that
makes at 10,000 events/s.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import Any

from bench.aws_calls import AwsCallCounter
from bench.env import emulated_aws

GOAL_PER_SECOND = 10_000
KEY_LIMIT_WRU = 1_000
SAMPLE_IDS = 100_000


def run(events: int) -> dict[str, Any]:
    with emulated_aws():
        from chalicelib import aws
        from chalicelib.deps import get_deps
        from chalicelib.domain.event_subscriptions import CreateSubscription
        from chalicelib.domain.notifications import ChannelType, CreateChannel
        from chalicelib.services.emitting import emit
        from chalicelib.store.events import FanoutMarker

        deps = get_deps()
        channels = [
            deps.notifications.create_channel(
                CreateChannel(name=f"bench-{n}", channel_type=ChannelType.email, target=f"b{n}@example.com")
            ).id
            for n in range(3)
        ]
        deps.subscriptions.create(CreateSubscription(name="all", channel_ids=channels[:2], event_types=["*"]))
        deps.subscriptions.create(CreateSubscription(name="exp", channel_ids=channels[2:], event_types=["export.*"]))
        emit("key.created", {"key_id": 0, "name": "warm-up", "role": "viewer"})  # caches and clients
        with AwsCallCounter() as counter, counter.measure() as calls:
            counter.hook(FanoutMarker._get_connection().connection.client)  # an item of the events table
            for n in range(events):
                emit("key.created", {"key_id": n + 1, "name": f"k{n}", "role": "viewer"})
        table = deps.settings.table("events")
        shards: Counter[str] = Counter()
        paginator = aws.client("dynamodb").get_paginator("scan")
        for page in paginator.paginate(TableName=table, ProjectionExpression="log_shard"):
            for item in page["Items"]:
                if "log_shard" in item:
                    shards[item["log_shard"]["S"]] += 1
    targets = 2
    floor = 2 + 3 * targets
    per_event = {api: round(count / events, 2) for api, count in sorted(calls.by_api.items())}
    hottest = max(shards.values()) / sum(shards.values())
    spread = hottest_share_of_ids(SAMPLE_IDS, len(shards))
    # Each event writes its by_time / by_type entry twice (put, then the completion update).
    return {
        "events": events,
        "targets_per_event": targets,
        "calls_per_event": round(calls.total / events, 2),
        "floor_per_event": floor,
        "ratio_to_floor": round(calls.total / events / floor, 2),
        "calls_by_api_per_event": per_event,
        "shards": len(shards),
        "hottest_key_share_in_this_run": round(hottest, 4),
        f"hottest_key_share_over_{SAMPLE_IDS}_ids": round(spread, 4),
        "hottest_key_wru_per_s_at_10000_events_per_s": round(spread * GOAL_PER_SECOND * 2),
        "key_limit_wru_per_s": KEY_LIMIT_WRU,
    }


def hottest_share_of_ids(count: int, shards: int) -> float:
    """The busiest shard's share of ``count`` fresh event ids (how evenly the id hash spreads)."""
    from chalicelib.domain.events import new_event_id
    from chalicelib.store.events import shard_of

    spread = Counter(shard_of(new_event_id(), shards) for _ in range(count))
    return max(spread.values()) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=300)
    print(json.dumps(run(parser.parse_args().events), indent=2))


if __name__ == "__main__":
    main()
