"""Count the DynamoDB and SQS calls one notification costs, from enqueue to ``sent``.

    .venv/bin/python -m tests.notify_costs

Every boto3 client the code uses (``chalicelib.aws``'s and each PynamoDB model's
connection) gets a botocore ``before-call`` hook; calls are counted per phase on
a warm container (the queue URL looked up, an id block reserved, today's audit
partition recorded, the maintenance state cached), as a steady stream of
notifications sees it. The warm-up's extra calls are reported separately.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

HANDLER_ID = "notify-cost-counter"


class CallCounter:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._hooked: set[int] = set()

    def _count(self, event_name: str, **_: Any) -> None:
        _, service, operation = event_name.split(".", 2)
        self.calls[f"{service}.{operation}"] += 1

    def hook_all(self) -> None:
        from chalicelib import aws
        from chalicelib.store.audit import AuditDays
        from chalicelib.store.health import HealthWindowItem
        from chalicelib.store.models import all_models
        from chalicelib.store.notifications import ChannelNameMarker
        from chalicelib.store.ratelimits import KeyWindowItem

        clients = [aws.client(name) for name in ("dynamodb", "sqs", "ses", "sns")]
        for model in [*all_models(), AuditDays, ChannelNameMarker, HealthWindowItem, KeyWindowItem]:
            clients.append(model._get_connection().connection.client)
        for client in clients:
            if id(client) not in self._hooked:
                client.meta.events.register("before-call.*.*", self._count, unique_id=f"{HANDLER_ID}-{id(client)}")
                self._hooked.add(id(client))

    @contextmanager
    def phase(self) -> Iterator[Counter[str]]:
        self.hook_all()
        before = Counter(self.calls)
        seen: Counter[str] = Counter()
        yield seen
        seen.update(self.calls - before)


def measure() -> dict[str, dict[str, int]]:
    """Run in an emulated account (the caller provides it); returns the calls per phase."""
    from chalice.test import Client

    from app import app
    from chalicelib.clock import FixedClock, utcnow
    from chalicelib.deps import get_deps
    from chalicelib.domain.common import Role
    from chalicelib.domain.notifications import EnqueueNotification
    from chalicelib.services.ratelimit import ApiRateLimiter
    from chalicelib.workers import notifications as worker
    from tests.notify_support import create_channel, enqueue, sqs_records
    from tests.support import ROOT, Api, make_token

    counter = CallCounter()
    results: dict[str, dict[str, int]] = {}
    with Client(app, stage_name="local", project_dir=str(ROOT)) as client:
        api = Api(client, make_token(Role.admin))
        channel = create_channel(api)
        # A warm container holds the channel's breaker state (read once a second per channel).
        get_deps().channel_health.cache_seconds = 3600
        with counter.phase() as warm_up:
            enqueue(api, channel["id"])
            worker.deliver(sqs_records())
        results["warm-up (first notification of a container)"] = dict(warm_up)

        # The key's requests are counted in leased blocks (6 for the default 600 a minute):
        # a fresh limiter, on a clock that stays in one minute, leases once for 6 requests.
        get_deps().__dict__["api_rate_limiter"] = ApiRateLimiter(FixedClock(utcnow()), 600)
        with counter.phase() as api_enqueue:
            for _ in range(6):
                notification = enqueue(api, channel["id"])
        results["6 x POST /system/notify/ (auth + shield + enqueue + audit)"] = dict(api_enqueue)

        with counter.phase() as service_enqueue:
            request = EnqueueNotification(channel_id=channel["id"], subject="s", body="b")
            get_deps().notifications.enqueue(request, principal=_principal())
        results["enqueue() as a service (export engine)"] = dict(service_enqueue)

        records = sqs_records()
        assert len(records) == 7, records  # six through the API, one through the service
        with counter.phase() as deliver_one:
            outcome = worker.deliver(records[:1])
        assert outcome == {"batchItemFailures": []}
        results["deliver one message to sent (email via SES)"] = dict(deliver_one)
        worker.deliver(records[1:])
        status = api.get(f"/system/notify/{notification['id']}").json["status"]
        assert status == "sent", status
    return results


def _principal() -> Any:
    from chalicelib.domain.common import SYSTEM_PRINCIPAL

    return SYSTEM_PRINCIPAL


def main() -> None:
    from moto import mock_aws

    from chalicelib.resources import create_all
    from tests.support import FAKE_AWS_ENV, reset_all

    os.environ.update(FAKE_AWS_ENV)
    os.environ.setdefault("VALHALLA_STAGE", "local")
    os.environ["VALHALLA_LOG_LEVEL"] = "ERROR"
    with mock_aws():
        reset_all()
        create_all()
        results = measure()
    print(json.dumps(results, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
