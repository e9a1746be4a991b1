"""The purge under pressure: throttled batch writes, a tiny time budget, archive-before-purge, call counts."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import aws
from chalicelib.budget import BatchBudget, Unlimited
from chalicelib.clock import FixedClock
from chalicelib.deps import get_deps
from chalicelib.domain.retention import StepStatus
from chalicelib.purge.engine import DynamoPurgeEngine
from chalicelib.services.retention import RetentionService
from chalicelib.settings import reset_settings
from tests.retention_support import (
    CountingClient,
    ThrottlingClient,
    add_audit_events,
    add_export_job,
    add_outbox,
    ago,
    audit_times,
    drain_purge_queue,
    export_job_ids,
    outbox_ids,
    purge_messages,
    s3_keys,
    set_policy,
    step,
)
from tests.support import Api


def new_run(api: Api, body: dict[str, Any] | None = None) -> int:
    reply = api.post("/system/retention/purge", body or {})
    assert reply.status == 202, reply.json
    purge_messages()  # this test drives the worker itself
    return int(reply.json["id"])


def retention() -> RetentionService:
    return get_deps().retention


# --- UnprocessedItems ------------------------------------------------------------------------


@pytest.fixture
def one_shard(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests count batch sizes of one partition; sharding is covered elsewhere."""
    monkeypatch.setenv("VALHALLA_WRITE_SHARDS", "1")
    reset_settings()


def test_unprocessed_items_are_retried_with_backoff_and_none_is_lost_or_skipped(
    admin: Api,
    one_shard: None,
) -> None:
    for item_id in range(1, 61):
        add_outbox(item_id, "sent", ago(40, minutes=item_id))
    for item_id in range(61, 71):
        add_outbox(item_id, "sent", ago(5))
    set_policy(admin, "notifications", 30)
    run_id = new_run(admin)

    throttling = ThrottlingClient(aws.client("dynamodb"), throttled_calls=2, keep_unprocessed=10)
    sleeps: list[float] = []
    retention()._engine = lambda: DynamoPurgeEngine(throttling, sleep=sleeps.append, jitter=lambda: 1.0)
    run = retention().process_run(run_id, Unlimited())

    assert run is not None and run.status.value == "completed"
    result = run.categories[0]
    assert (result.matched, result.deleted) == (60, 60)
    assert outbox_ids() == set(range(61, 71)), "every expired item deleted, every recent one kept"
    # 25 sent, 10 came back unprocessed; retried (again 10 unprocessed), then accepted; then the rest.
    assert throttling.requests_seen == [25, 10, 10, 25, 10]
    assert sleeps == [0.1, 0.2], "exponential backoff between retries, through the injected sleep"


def test_items_still_unprocessed_after_the_last_retry_are_kept_and_deleted_next_time(
    admin: Api,
    clock: FixedClock,
    one_shard: None,
) -> None:
    add_audit_events(clock, ago(50), 40)
    add_audit_events(clock, ago(2), 5)
    set_policy(admin, "audit_logs", 30)
    run_id = new_run(admin)

    throttling = ThrottlingClient(aws.client("dynamodb"), throttled_calls=3, keep_unprocessed=5)
    retention()._engine = lambda: DynamoPurgeEngine(throttling, sleep=lambda _s: None, max_attempts=3)
    sent: list[tuple[int, int]] = []
    retention().queue.send = lambda run_id, delay_seconds=0: sent.append((run_id, delay_seconds))  # type: ignore[method-assign]

    paused = retention().process_run(run_id, Unlimited())
    assert paused is not None and paused.status.value == "running"
    assert (paused.categories[0].matched, paused.categories[0].deleted) == (25, 20)
    assert sent == [(run_id, 10)], "re-enqueued after a pause, not dropped"
    assert len(audit_times()) == 45 - 20

    finished = retention().process_run(run_id, Unlimited())
    assert finished is not None and finished.status.value == "completed"
    assert (finished.categories[0].matched, finished.categories[0].deleted) == (40, 40)
    assert audit_times() == sorted(audit_times()) and len(audit_times()) == 5


# --- time budget -----------------------------------------------------------------------------


def test_a_tiny_time_budget_resumes_where_it_stopped_with_exact_counts(
    admin: Api,
    clock: FixedClock,
) -> None:
    add_audit_events(clock, ago(60), 50)
    add_audit_events(clock, ago(45), 50)
    add_audit_events(clock, ago(31), 30)
    add_audit_events(clock, ago(3), 7)
    for item_id in range(1, 71):
        add_outbox(item_id, "sent" if item_id % 3 else "failed", ago(35, minutes=item_id))
    add_outbox(500, "pending", ago(90))
    for job_id in range(1, 41):
        add_export_job(job_id, "completed", ago(40, minutes=job_id))
    add_export_job(99, "running", ago(90))
    for category in ("audit_logs", "notifications", "export_jobs"):
        set_policy(admin, category, 30)
    run_id = new_run(admin)

    # Pages of 7 keys, one batch per invocation: pauses fall inside pages, at their ends, between days.
    retention()._engine = lambda: DynamoPurgeEngine(aws.client("dynamodb"), page_size=7)
    invocations = 0
    positions = []
    while True:
        run = retention().process_run(run_id, BatchBudget(1))
        assert run is not None
        invocations += 1
        if run.status.value != "running":
            break
        stored = retention().get_run(run_id)
        assert stored.status.value == "running" and stored.ended_at is None
        from chalicelib.store.retention import PurgeRunItem

        positions.append([s.get("state") for s in PurgeRunItem.get(run_id).steps])
        assert invocations < 200
    assert run.status.value == "completed"
    counts = {result.category: (result.matched, result.deleted, result.objects_deleted) for result in run.categories}
    assert counts == {"audit_logs": (130, 130, 0), "notifications": (70, 70, 0), "export_jobs": (40, 40, 80)}
    # Batches are filled to 25 across pages and sources (days, statuses, write shards).
    expected_batches = sum(math.ceil(n / 25) for n in (130, 70, 40))
    assert invocations >= expected_batches, "one batch per invocation"
    assert len(purge_messages()) == invocations - 1, "each unfinished invocation queued the next one"
    assert len(audit_times()) == 7
    assert outbox_ids() == {500}
    assert export_job_ids() == {99}
    assert s3_keys() == {"exports/99/data.jsonl.gz", "exports/99/manifest.json"}
    assert any(state and state["key"] for states in positions for state in states), "positions were saved"


def test_the_lambda_budget_keeps_a_reserve() -> None:
    from chalicelib.budget import LambdaBudget

    remaining = [300_000.0]
    budget = LambdaBudget(lambda: remaining[0], reserve_seconds=20)
    assert not budget.exhausted()
    remaining[0] = 20_001
    assert not budget.exhausted()
    remaining[0] = 20_000
    assert budget.exhausted()
    short = LambdaBudget(lambda: 3000.0, reserve_seconds=20)
    assert short.reserve_ms == 600.0, "never more than a fifth of a short invocation"


# --- archive before purge ----------------------------------------------------------------------


class FakeExports:
    def __init__(self) -> None:
        self.jobs: dict[int, SimpleNamespace] = {}
        self.requests: list[Any] = []

    def create(self, request: Any, principal: Any) -> SimpleNamespace:
        job = SimpleNamespace(id=len(self.jobs) + 1, status="pending", error_message=None)
        self.jobs[job.id] = job
        self.requests.append((request, principal.name))
        return job

    def get(self, job_id: int) -> SimpleNamespace:
        return self.jobs[job_id]


def test_archive_waits_for_the_export_then_deletes(admin: Api, clock: FixedClock) -> None:
    add_audit_events(clock, ago(50), 6)
    add_audit_events(clock, ago(2), 2)
    set_policy(admin, "audit_logs", 30, archive=True)
    run_id = new_run(admin)
    exports = FakeExports()
    retention().exports = lambda: exports
    sent: list[tuple[int, int]] = []
    retention().queue.send = lambda run_id, delay_seconds=0: sent.append((run_id, delay_seconds))  # type: ignore[method-assign]

    waiting = retention().process_run(run_id, Unlimited())
    assert waiting is not None and waiting.status.value == "running"
    result = waiting.categories[0]
    assert (result.status, result.archive_job_id, result.deleted) == (StepStatus.archiving, 1, 0)
    ((request, principal),) = exports.requests
    assert request.job_type == "audit_log_export" and principal == "system"
    assert request.filter_params == {"before_date": "2026-05-02T12:00:00.000Z"}
    assert sent == [(run_id, 60)], "looked at again after the archive poll interval"
    assert len(audit_times()) == 8

    retention().process_run(run_id, Unlimited())
    assert len(exports.requests) == 1, "one export per run"
    assert len(audit_times()) == 8

    exports.jobs[1].status = "completed"
    done = retention().process_run(run_id, Unlimited())
    assert done is not None and done.status.value == "completed"
    assert (done.categories[0].archive_job_id, done.categories[0].deleted) == (1, 6)
    assert len(audit_times()) == 2


def test_archive_failure_deletes_nothing_and_says_why(admin: Api, clock: FixedClock) -> None:
    add_outbox(1, "sent", ago(50))
    set_policy(admin, "notifications", 30, archive=True)
    run_id = new_run(admin)
    exports = FakeExports()
    retention().exports = lambda: exports
    retention().queue.send = lambda run_id, delay_seconds=0: None  # type: ignore[method-assign]
    retention().process_run(run_id, Unlimited())
    assert exports.requests[0][0].job_type == "notification_export"
    exports.jobs[1].status = "failed"
    exports.jobs[1].error_message = "bucket unavailable"
    run = admin.get(f"/system/retention/runs/{run_id}").json
    assert run["status"] == "running"
    failed = retention().process_run(run_id, Unlimited())
    assert failed is not None and failed.status.value == "failed"
    assert failed.reason == "notifications: Archive export job 1 failed (bucket unavailable); nothing was deleted."
    assert outbox_ids() == {1}


def test_a_dry_run_does_not_archive(admin: Api, clock: FixedClock) -> None:
    add_audit_events(clock, ago(50), 3)
    set_policy(admin, "audit_logs", 30, archive=True)
    run_id = new_run(admin, {"dry_run": True})
    exports = FakeExports()
    retention().exports = lambda: exports
    run = retention().process_run(run_id, Unlimited())
    assert run is not None and run.status.value == "completed"
    assert exports.requests == [] and run.categories[0].matched == 3 and len(audit_times()) == 3


def drain_queue(client: Client, logical: str, handler: str, limit: int = 50) -> None:
    from chalicelib.resources import queue_url
    from tests.retention_support import sqs_event

    sqs = aws.client("sqs")
    url = queue_url(logical)
    for _ in range(limit):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return
        client.lambda_.invoke(handler, sqs_event(messages[0]))
        sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])


def test_archive_through_the_export_engine_end_to_end(
    admin: Api,
    clock: FixedClock,
    chalice_client: Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_audit_events(clock, ago(50), 4, action="old.event")
    add_audit_events(clock, ago(2), 2, action="new.event")
    set_policy(admin, "audit_logs", 30, archive=True)
    retention().archive_poll_seconds = 0
    run = admin.post("/system/retention/purge", {}).json

    drain_purge_queue(chalice_client, 3, require_empty=False)  # creates the export job, then waits for it
    job_id = step(admin.get(f"/system/retention/runs/{run['id']}").json, "audit_logs")["archive_job_id"]
    assert job_id
    job = admin.get(f"/system/exports/{job_id}").json
    assert job["job_type"] == "audit_log_export"
    assert job["filter_params"]["before_date"] == "2026-05-02T12:00:00.000Z"

    for _ in range(5):
        drain_queue(chalice_client, "exports", "run_export")
        drain_purge_queue(chalice_client, 3, require_empty=False)
        done = admin.get(f"/system/retention/runs/{run['id']}").json
        if done["status"] != "running":
            break
    assert admin.get(f"/system/exports/{job_id}").json["status"] == "completed"
    assert done["status"] == "completed", done
    assert step(done, "audit_logs")["deleted"] == 4
    assert audit_times("old.event") == [] and len(audit_times("new.event")) == 2
    assert any(key.startswith(f"exports/{job_id}/") for key in s3_keys()), "the archive is in S3"


# --- DynamoDB calls ------------------------------------------------------------------------------


def test_calls_are_the_batch_floor_plus_query_pages_whatever_the_table_size(admin: Api) -> None:
    for item_id in range(1, 401):
        expired = item_id <= 100
        add_outbox(item_id, "sent" if item_id % 2 else "failed", ago(60 if expired else 5, minutes=item_id))
    set_policy(admin, "notifications", 30)
    run_id = new_run(admin)
    counting = CountingClient(aws.client("dynamodb"))
    retention()._engine = lambda: DynamoPurgeEngine(counting)
    try:
        run = retention().process_run(run_id, Unlimited())
    finally:
        counting.close()
    assert run is not None and run.categories[0].deleted == 100
    # 50 expired per status, 25 on each of two of its 4 write shards (odd ids are sent):
    # 2 + 2 batches of 25, as many for their contents, and one Query page per shard of each status.
    assert counting.calls == {"BatchWriteItem": 4 + 4, "Query": 2 * 4}
    assert "Scan" not in counting.calls


def test_batches_are_filled_across_write_shards(admin: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALHALLA_WRITE_SHARDS", "32")
    reset_settings()
    for item_id in range(1, 131):
        expired = item_id <= 110
        add_outbox(item_id, "sent" if item_id % 2 else "failed", ago(60 if expired else 5, minutes=item_id))
    set_policy(admin, "notifications", 30)
    run_id = new_run(admin)
    counting = CountingClient(aws.client("dynamodb"))
    retention()._engine = lambda: DynamoPurgeEngine(counting)
    try:
        run = retention().process_run(run_id, Unlimited())
    finally:
        counting.close()
    assert run is not None and run.categories[0].deleted == 110
    # 110 expired records over 64 partitions (2 statuses x 32 shards) of one to three each:
    # ceil(110/25) = 5 full batches of states (not one per partition), 5 of their contents,
    # and one Query page per partition.
    assert counting.calls == {"BatchWriteItem": 5 + 5, "Query": 2 * 32}
    assert outbox_ids() == set(range(111, 131))
