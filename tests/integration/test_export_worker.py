"""The export worker end to end under moto: every job type, filters, gzip, CSV, manifest, resumption, cancel."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.clock import FixedClock, isoformat
from chalicelib.deps import get_deps
from chalicelib.domain.common import SYSTEM_PRINCIPAL, Principal, Role
from chalicelib.domain.exports import CreateExport
from chalicelib.domain.notifications import ChannelType, CreateChannel, EnqueueNotification
from chalicelib.services.audit import AuditLog
from chalicelib.services.notifications import Notifications
from chalicelib.store.exports import ExportJobItem
from chalicelib.store.notifications import OutboxItem
from chalicelib.store.outbox import status_key
from chalicelib.workers.exports import ExportWorker, handle_export_event, run_export_message
from tests.export_support import (
    drain,
    keys_under,
    open_uploads,
    queued_messages,
    read_manifest,
    read_object,
    read_rows,
)
from tests.support import Api

T0 = datetime(2024, 1, 1, tzinfo=UTC)
ALICE = Principal(key_id=101, name="alice", role=Role.admin)
BOB = Principal(key_id=102, name="bob", role=Role.operator)
ALL_AUDIT = {"job_type": "audit_log_export", "filter_params": {"before_date": "2025-01-01"}}


def seed_audit(days: int = 3, per_day: int = 4) -> list[dict[str, Any]]:
    """Audit events on consecutive days from 2024-01-01, alternating actors and actions."""
    clock = FixedClock(T0)
    log = AuditLog(clock)
    made = []
    for day in range(days):
        clock.now = T0 + timedelta(days=day, hours=1)
        for index in range(per_day):
            clock.advance(minutes=1)
            who = ALICE if index % 2 == 0 else BOB
            action = "thing.create" if index % 3 else "thing.delete"
            event = log.record(who, action, "thing", f"{day}-{index}", {"n": index})
            made.append(event.model_dump(mode="json"))
    return made


def export(api: Api, job_type: str, filters: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"job_type": job_type, **extra}
    if filters is not None:
        body["filter_params"] = filters
    created = api.post("/system/exports/", body)
    assert created.status == 201, created.json
    drain()
    return dict(api.get(f"/system/exports/{created.json['id']}").json)


def check_manifest(job: dict[str, Any]) -> dict[str, Any]:
    manifest = read_manifest(job)
    stored = read_object(job["storage_url"])
    assert manifest["job_id"] == job["id"] and manifest["job_type"] == job["job_type"]
    assert manifest["format"] == job["format"]
    assert manifest["filter_params"] == job["filter_params"]
    assert manifest["row_count"] == job["row_count"]
    assert manifest["bytes"] == job["bytes"] == len(stored)
    assert manifest["sha256"] == hashlib.sha256(stored).hexdigest()
    assert manifest["created_at"] == job["created_at"]
    assert job["manifest_url"].rsplit("/", 1)[0] == job["storage_url"].rsplit("/", 1)[0]
    assert job["storage_url"].split("/", 3)[3].startswith(f"exports/{job['id']}/")
    return manifest


# --- audit_log_export ------------------------------------------------------------------------------


def test_audit_export_of_a_date_range_has_exactly_the_rows_in_range(api: Api) -> None:
    made = seed_audit(days=3, per_day=4)
    job = export(api, "audit_log_export", {"start_date": "2024-01-02", "end_date": "2024-01-03"})
    assert job["status"] == "completed", job
    rows = read_rows(job["storage_url"])
    expected = [event for event in made if event["at"][:10] in ("2024-01-02", "2024-01-03")]
    assert [row["id"] for row in rows] == [event["id"] for event in expected]
    assert rows[0] == {key: expected[0][key] for key in rows[0]}
    assert job["row_count"] == len(expected) == 8
    assert job["completed_at"] and job["progress"]["rows_written"] == 8
    manifest = check_manifest(job)
    assert manifest["row_count"] == 8
    assert gzip.decompress(read_object(job["storage_url"])).count(b"\n") == 8


def test_audit_export_filters_by_actor_action_and_instants(api: Api) -> None:
    made = seed_audit(days=2, per_day=6)
    wide = {"start_date": "2024-01-01", "end_date": "2024-01-31"}
    by_actor = read_rows(export(api, "audit_log_export", {**wide, "actor": "bob"})["storage_url"])
    assert [row["id"] for row in by_actor] == [event["id"] for event in made if event["actor"] == "bob"]
    by_action = read_rows(export(api, "audit_log_export", {**wide, "action": "thing.delete"})["storage_url"])
    assert [row["id"] for row in by_action] == [event["id"] for event in made if event["action"] == "thing.delete"]
    both = read_rows(
        export(api, "audit_log_export", {**wide, "actor": "alice", "action": "thing.create"})["storage_url"]
    )
    assert [row["id"] for row in both] == [
        event["id"] for event in made if event["actor"] == "alice" and event["action"] == "thing.create"
    ]
    first, last = made[1]["at"], made[3]["at"]
    instants = read_rows(export(api, "audit_log_export", {"start_date": first, "end_date": last})["storage_url"])
    assert [row["id"] for row in instants] == [event["id"] for event in made[1:4]]


def test_audit_export_before_date_takes_everything_older(api: Api) -> None:
    made = seed_audit(days=3, per_day=2)
    job = export(api, "audit_log_export", {"before_date": "2024-01-03"})
    rows = read_rows(job["storage_url"])
    assert [row["id"] for row in rows] == [event["id"] for event in made if event["at"] < "2024-01-03"]
    empty = export(api, "audit_log_export", {"before_date": "2023-01-01"})
    assert empty["status"] == "completed" and empty["row_count"] == 0
    assert read_rows(empty["storage_url"]) == []
    check_manifest(empty)


def test_csv_quotes_commas_quotes_and_newlines(api: Api) -> None:
    clock = FixedClock(T0)
    log = AuditLog(clock)
    nasty = 'he said "hi, there"\nand left,\r\nagain'
    log.record(ALICE, "note.add", "note", 'id,with"quote', {"text": nasty, "list": [1, "a,b"]})
    clock.advance(seconds=1)
    log.record(BOB, "note.add", "note", "plain", None)
    job = export(api, "audit_log_export", {"start_date": "2024-01-01", "end_date": "2024-01-01"}, format="csv")
    assert job["format"] == "csv" and job["storage_url"].endswith(".csv.gz")
    text = gzip.decompress(read_object(job["storage_url"])).decode()
    parsed = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(parsed) == 2 == job["row_count"]
    assert parsed[0]["resource_id"] == 'id,with"quote'
    assert json.loads(parsed[0]["summary"]) == {"text": nasty, "list": [1, "a,b"]}
    assert parsed[1]["summary"] == "" and parsed[1]["actor"] == "bob"
    header = "id,at,actor,role,action,resource_type,resource_id,summary,request_id,source_ip,actor_key_id"
    assert text.splitlines()[0] == header
    manifest = check_manifest(job)
    assert manifest["columns"][:3] == ["id", "at", "actor"]


def test_a_user_reads_their_own_earlier_actions(api: Api) -> None:
    api.post("/system/maintenance/state", {"mode": "read_only", "reason": "window"})
    api.post("/system/maintenance/state", {"mode": "normal"})
    today = isoformat(get_deps().clock())[:10]
    job = export(api, "audit_log_export", {"start_date": today, "end_date": today, "actor": "test-admin"})
    rows = read_rows(job["storage_url"])
    assert [row["action"] for row in rows][:2] == ["maintenance.set", "maintenance.set"]
    assert {row["actor"] for row in rows} == {"test-admin"}


# --- notification_export ---------------------------------------------------------------------------


def seed_outbox() -> tuple[int, int, list[OutboxItem]]:
    deps = get_deps()
    clock = FixedClock(T0)
    notifications = Notifications(deps.settings, clock, deps.ids)
    email = notifications.create_channel(
        CreateChannel(name="ops-email", channel_type=ChannelType.email, target="ops@example.com")
    ).id
    sms = notifications.create_channel(
        CreateChannel(name="ops-sms", channel_type=ChannelType.sms, target="+14155550100")
    ).id
    items = []
    for index in range(6):
        clock.now = T0 + timedelta(days=index)
        view = notifications.enqueue(
            EnqueueNotification(
                channel_id=email if index % 2 == 0 else sms, subject=f"s{index}", body="b", payload={"i": index}
            ),
            SYSTEM_PRINCIPAL,
        )
        item = OutboxItem.get(view.id)
        if index in (1, 2):
            item.update(actions=[OutboxItem.status.set("sent"), OutboxItem.status_key.set(status_key("sent", view.id))])
        if index == 3:
            item.update(
                actions=[
                    OutboxItem.status.set("failed"),
                    OutboxItem.status_key.set(status_key("failed", view.id)),
                    OutboxItem.last_error.set("bounced, twice"),
                ]
            )
        items.append(item)
    return email, sms, items


def test_notification_export_by_range_status_and_channel(api: Api) -> None:
    email, sms, items = seed_outbox()
    everything = export(api, "notification_export", {"start_date": "2024-01-01", "end_date": "2024-01-31"})
    rows = read_rows(everything["storage_url"])
    assert sorted(row["id"] for row in rows) == sorted(int(item.id) for item in items)
    assert {row["status"] for row in rows} == {"pending", "sent", "failed"}
    row = next(row for row in rows if row["id"] == int(items[3].id))
    assert row["last_error"] == "bounced, twice" and row["payload"] == {"i": 3} and row["channel_id"] == sms
    check_manifest(everything)

    sent = read_rows(export(api, "notification_export", {"before_date": "2024-01-04", "status": "sent"})["storage_url"])
    assert [row["id"] for row in sent] == [int(items[1].id), int(items[2].id)]
    on_email = export(
        api, "notification_export", {"start_date": "2024-01-02", "end_date": "2024-01-06", "channel_id": email}
    )
    assert [row["subject"] for row in read_rows(on_email["storage_url"])] == ["s2", "s4"]
    pending_email = export(
        api,
        "notification_export",
        {"start_date": "2024-01-01", "end_date": "2024-01-06", "channel_id": email, "status": "pending"},
        format="csv",
    )
    parsed = list(csv.DictReader(io.StringIO(gzip.decompress(read_object(pending_email["storage_url"])).decode())))
    assert [row["subject"] for row in parsed] == ["s0", "s4"]


# --- config_snapshot -------------------------------------------------------------------------------


def test_config_snapshot_has_channels_redacted_policies_and_maintenance(api: Api) -> None:
    hook = api.post(
        "/system/notify/channels",
        {"name": "hook", "channel_type": "webhook", "target": "https://hooks.example.com/T000/secret-path?token=abc"},
    )
    assert hook.status == 201, hook.json
    secret = hook.json["signing_secret"]
    api.post("/system/notify/channels", {"name": "mail", "channel_type": "email", "target": "owner@example.com"})
    assert api.post("/system/retention/", {"category": "audit_logs", "days_to_keep": 365}).status in (200, 201)
    api.post("/system/maintenance/state", {"mode": "read_only", "reason": "snapshot"})
    api.post("/system/maintenance/state", {"mode": "normal"})

    job = export(api, "config_snapshot")
    assert job["status"] == "completed", job
    raw = gzip.decompress(read_object(job["storage_url"])).decode()
    assert secret not in raw and "secret-path" not in raw and "token=abc" not in raw
    rows = read_rows(job["storage_url"])
    by_type: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_type.setdefault(row["record_type"], []).append(row)
    assert sorted(row["data"]["name"] for row in by_type["channel"]) == ["hook", "mail"]
    webhook = next(row["data"] for row in by_type["channel"] if row["data"]["name"] == "hook")
    assert webhook["signing_secret"] == "[redacted]" and webhook["target"].startswith("https://hooks.example.com")
    assert [row["data"]["days_to_keep"] for row in by_type["retention_policy"]] == [365]
    assert by_type["retention_policy"][0]["key"] == "audit_logs"
    assert len(by_type["maintenance"]) == 1 and by_type["maintenance"][0]["data"]["mode"] == "normal"
    assert job["row_count"] == len(rows) == 4
    check_manifest(job)


# --- resumption, cancel, failure -------------------------------------------------------------------


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the emulated S3 take parts below 5 MiB, so that a test can make many parts from few rows."""
    monkeypatch.setattr("moto.s3.models.S3_UPLOAD_PART_MIN_SIZE", 1)


@pytest.mark.parametrize("export_format", ["jsonl", "csv"])
def test_a_tiny_time_budget_resumes_across_invocations_without_loss_or_duplicates(
    api: Api, small_parts: None, export_format: str
) -> None:
    made = seed_audit(days=4, per_day=30)
    worker = ExportWorker(get_deps(), part_bytes=400, page_rows=7, mem_level=1)
    created = api.post(
        "/system/exports/",
        {"job_type": "audit_log_export", "filter_params": {"before_date": "2025-01-01"}, "format": export_format},
    ).json
    outcomes = drain(budget=lambda: 0.0, worker=worker)
    assert outcomes.count("yielded") >= 5 and outcomes[-1] == "completed"
    job = api.get(f"/system/exports/{created['id']}").json
    assert job["status"] == "completed" and job["progress"]["invocations"] == len(outcomes)
    assert job["progress"]["parts_uploaded"] > 5
    data = gzip.decompress(read_object(job["storage_url"])).decode()
    if export_format == "jsonl":
        ids = [json.loads(line)["id"] for line in data.splitlines()]
    else:
        ids = [row["id"] for row in csv.DictReader(io.StringIO(data))]
        assert data.count("id,at,actor") == 1  # one header, however many invocations
    assert ids == [event["id"] for event in made]
    assert len(set(ids)) == len(ids) == job["row_count"] == 120
    check_manifest(job)
    assert open_uploads() == []


def test_a_running_export_shows_progress_toward_its_days(api: Api, small_parts: None) -> None:
    """An audit export of 4 days, resumed after every part: each look at the job shows days read of 4."""
    seed_audit(days=4, per_day=30)
    worker = ExportWorker(get_deps(), part_bytes=400, page_rows=7, mem_level=1)
    job_id = api.post("/system/exports/", ALL_AUDIT).json["id"]
    seen = []
    outcome = "yielded"
    while outcome == "yielded" and len(seen) < 500:
        (body,) = queued_messages()  # each invocation stores a part and hands the job to the next
        outcome = run_export_message(body, lambda: 0.0, worker)
        progress = api.get(f"/system/exports/{job_id}").json["progress"]
        seen.append((progress["segments_read"], progress["segments_total"], progress["fraction"]))
    job = api.get(f"/system/exports/{job_id}").json
    assert job["status"] == "completed" and job["progress"]["fraction"] == 1.0
    running = seen[:-1]
    assert running and all(total == 4 for _, total, _ in running)
    fractions = [fraction for _, _, fraction in running]
    assert fractions == sorted(fractions) and fractions[0] < 0.5 and 0.5 <= fractions[-1] < 1
    assert {read for read, _, _ in running} >= {0, 1, 2, 3}
    assert seen[-1] == (4, 4, 1.0)


def test_cancel_mid_run_stops_at_the_next_page_and_leaves_nothing(api: Api, small_parts: None) -> None:
    seed_audit(days=2, per_day=40)
    worker = ExportWorker(get_deps(), part_bytes=300, page_rows=5, mem_level=1, checkpoint_pages=1)
    created = api.post(
        "/system/exports/", {"job_type": "audit_log_export", "filter_params": {"before_date": "2025-01-01"}}
    )
    job_id = created.json["id"]
    calls = {"n": 0}

    def budget() -> float:
        calls["n"] += 1
        if calls["n"] == 3:  # the worker is mid-run, parts already stored
            assert ExportJobItem.get(job_id).parts_uploaded > 0
            reply = api.post(f"/system/exports/{job_id}/cancel")
            assert reply.status == 200
        return 900_000.0

    assert drain(budget=budget, worker=worker) == ["cancelled"]
    job = api.get(f"/system/exports/{job_id}").json
    assert job["status"] == "failed" and "Cancelled by test-admin" in job["error_message"]
    assert job["storage_url"] is None
    assert keys_under(f"exports/{job_id}/") == []
    assert open_uploads() == []


def test_a_failure_marks_the_job_failed_aborts_the_upload_and_writes_nothing(
    api: Api, small_parts: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    from chalicelib.exporting import multipart

    seed_audit(days=2, per_day=40)
    real = multipart.GzipPartWriter.upload_part
    stored = {"parts": 0}

    def flaky(self: multipart.GzipPartWriter) -> None:
        if stored["parts"] == 2:
            raise ClientError(
                {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, "UploadPart"
            )
        stored["parts"] += 1
        real(self)

    monkeypatch.setattr(multipart.GzipPartWriter, "upload_part", flaky)
    worker = ExportWorker(get_deps(), part_bytes=300, page_rows=5, mem_level=1)
    created = api.post(
        "/system/exports/", {"job_type": "audit_log_export", "filter_params": {"before_date": "2025-01-01"}}
    )
    assert drain(worker=worker) == ["failed"]
    job = api.get(f"/system/exports/{created.json['id']}").json
    assert job["status"] == "failed"
    assert "UploadPart returned SlowDown" in job["error_message"]
    assert job["storage_url"] is None and job["completed_at"] is None
    assert keys_under(f"exports/{job['id']}/") == []
    assert open_uploads() == []


def test_duplicate_messages_never_run_a_job_twice(api: Api) -> None:
    seed_audit(days=1, per_day=3)
    created = api.post(
        "/system/exports/", {"job_type": "audit_log_export", "filter_params": {"before_date": "2025-01-01"}}
    )
    job_id = created.json["id"]
    assert drain() == ["completed"]
    assert run_export_message({"job_id": job_id}, lambda: 900_000.0) == "completed"
    assert run_export_message({"job_id": 424242}, lambda: 900_000.0) == "missing"
    assert run_export_message({"nope": 1}, lambda: 900_000.0) == "invalid"
    job = api.get(f"/system/exports/{job_id}").json
    assert job["progress"]["invocations"] == 1 and job["row_count"] == 3


def test_a_running_job_with_a_live_lease_is_busy_and_the_message_comes_back(api: Api) -> None:
    from chalice.app import SQSEvent

    created = api.post("/system/exports/", {"job_type": "config_snapshot"})
    job_id = created.json["id"]
    item = ExportJobItem.get(job_id)
    later = isoformat(get_deps().clock() + timedelta(minutes=5))
    item.update(actions=[ExportJobItem.status.set("running"), ExportJobItem.lease_until.set(later)])
    from chalicelib import aws
    from chalicelib.resources import queue_url

    message = aws.client("sqs").receive_message(QueueUrl=queue_url("exports"))["Messages"][0]
    event = {
        "Records": [
            {"messageId": "m-1", "body": message["Body"], "receiptHandle": message["ReceiptHandle"], "attributes": {}}
        ]
    }
    assert handle_export_event(SQSEvent(event, None)) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    # the lease expires (the run that held it died): the next delivery takes over
    item.update(actions=[ExportJobItem.lease_until.set(isoformat(get_deps().clock() - timedelta(seconds=1)))])
    assert handle_export_event(SQSEvent(event, None)) == {"batchItemFailures": []}
    assert api.get(f"/system/exports/{job_id}").json["status"] == "completed"


def test_completion_and_failure_notify_the_channel(api: Api) -> None:
    channel = api.post("/system/notify/channels", {"name": "ops", "channel_type": "email", "target": "ops@example.com"})
    channel_id = channel.json["id"]
    done = export(api, "config_snapshot", notify_channel_id=channel_id)
    assert done["status"] == "completed"
    external = api.post("/system/exports/", {"job_type": "report_export", "notify_channel_id": channel_id}).json
    api.post(f"/system/exports/{external['id']}/status", {"status": "failed", "error_message": "no disk"})
    outbox = api.get(f"/system/notify?channel_id={channel_id}").json["items"]
    subjects = sorted(item["subject"] for item in outbox)
    assert subjects == [
        f"Export job {done['id']} (config_snapshot) completed",
        f"Export job {external['id']} (report_export) failed",
    ]
    completed = next(item for item in outbox if "completed" in item["subject"])
    assert completed["payload"]["storage_url"] == done["storage_url"]
    assert completed["payload"]["row_count"] == done["row_count"]


def test_the_retention_engine_interface(aws: None) -> None:
    seed_audit(days=2, per_day=2)
    jobs = get_deps().exports
    request = CreateExport(job_type="audit_log_export", filter_params={"before_date": "2024-01-02T00:00:00.000Z"})
    view = jobs.create(request, SYSTEM_PRINCIPAL)
    assert view.status.value == "pending" and view.principal == "system"
    drain()
    done = jobs.get(view.id)
    assert done.status.value == "completed" and done.row_count == 2
    assert done.storage_url == f"s3://{get_deps().settings.exports_bucket}/exports/{view.id}/data.jsonl.gz"
    assert sorted(keys_under(f"exports/{view.id}/")) == [
        f"exports/{view.id}/data.jsonl.gz",
        f"exports/{view.id}/manifest.json",
    ]
    listed = list(ExportJobItem.by_status.query("completed", ExportJobItem.created_at < "9999"))
    assert [int(item.id) for item in listed] == [view.id]


def test_objects_are_encrypted_at_rest_and_the_bucket_is_private(api: Api) -> None:
    from chalicelib import aws

    job = export(api, "config_snapshot")
    s3 = aws.client("s3")
    bucket = get_deps().settings.exports_bucket
    for url in (job["storage_url"], job["manifest_url"]):
        head = s3.head_object(Bucket=bucket, Key=url.split("/", 3)[3])
        assert head["ServerSideEncryption"] == "AES256"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
