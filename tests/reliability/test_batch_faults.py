"""``UnprocessedItems`` on the batch write path (the purge): nothing lost, nothing skipped, counts true.

DynamoDB's ``BatchWriteItem`` may accept only part of a batch and hand the rest back
as ``UnprocessedItems``. The fault is injected at the botocore call, under the whole
chain: the API starts a purge run, the SQS handler runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice.test import Client

from chalicelib import aws
from chalicelib.deps import get_deps
from chalicelib.purge.engine import DynamoPurgeEngine
from tests.reliability.faults import Faults
from tests.retention_support import (
    add_outbox,
    ago,
    drain_purge_queue,
    outbox_ids,
    set_policy,
)
from tests.support import Api

EXPIRED = range(1, 61)
RECENT = range(61, 71)


def keep_back(share: float) -> Callable[[Callable[[dict[str, Any]], dict[str, Any]], dict[str, Any]], dict[str, Any]]:
    """A BatchWriteItem that writes only the first part of each table's requests and returns the rest."""

    def rewrite(send: Callable[[dict[str, Any]], dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        sent: dict[str, list[Any]] = {}
        held: dict[str, list[Any]] = {}
        for table, requests in params["RequestItems"].items():
            cut = int(len(requests) * (1 - share))
            if cut:
                sent[table] = requests[:cut]
            if requests[cut:]:
                held[table] = requests[cut:]
        response = send({**params, "RequestItems": sent}) if sent else {"UnprocessedItems": {}}
        unprocessed = dict(response.get("UnprocessedItems") or {})
        for table, requests in held.items():
            unprocessed[table] = [*unprocessed.get(table, []), *requests]
        return {**response, "UnprocessedItems": unprocessed}

    return rewrite


def purge(api: Api, client: Client) -> dict[str, Any]:
    started = api.post("/system/retention/purge", {"categories": ["notifications"]})
    assert started.status == 202, started.json
    drain_purge_queue(client)
    run = api.get(f"/system/retention/runs/{started.json['id']}")
    assert run.status == 200
    return dict(run.json)


def setup_outbox(api: Api) -> None:
    for item_id in EXPIRED:
        add_outbox(item_id, "sent", ago(40, minutes=item_id))
    for item_id in RECENT:
        add_outbox(item_id, "sent", ago(5))
    set_policy(api, "notifications", 30)
    get_deps().retention._engine = lambda: DynamoPurgeEngine(aws.client("dynamodb"), sleep=lambda seconds: None)


def test_partly_processed_batches_are_completed_and_counted_exactly(
    admin: Api,
    chalice_client: Client,
    faults: Faults,
) -> None:
    setup_outbox(admin)
    faults.rewrite("dynamodb", "BatchWriteItem", keep_back(0.4), times=3)
    run = purge(admin, chalice_client)
    assert faults.rules[0].fired == 3
    assert run["status"] == "completed", run
    result = run["categories"][0]
    assert result["deleted"] == len(EXPIRED)
    assert outbox_ids() == set(RECENT), "every expired item deleted, every recent one kept"


def test_batches_never_processed_are_not_reported_as_deleted(
    admin: Api,
    chalice_client: Client,
    faults: Faults,
) -> None:
    setup_outbox(admin)
    faults.rewrite("dynamodb", "BatchWriteItem", keep_back(1.0))
    run = purge(admin, chalice_client)
    result = run["categories"][0]
    still_there = outbox_ids()
    assert still_there == set(EXPIRED) | set(RECENT)
    # the run never says it deleted what is still there
    assert result["deleted"] == 0, run
    assert run["status"] != "completed" and result["status"] != "completed", run
    # and when DynamoDB accepts writes again, the next run finishes the job
    faults.clear()
    again = purge(admin, chalice_client)
    assert again["status"] == "completed" and again["categories"][0]["deleted"] == len(EXPIRED)
    assert outbox_ids() == set(RECENT)
