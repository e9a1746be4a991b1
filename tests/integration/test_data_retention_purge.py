"""The purge: each category on both sides of its cutoff, runs, dry runs, maintenance, previews."""

from __future__ import annotations

import json

from chalice.test import Client

from chalicelib.budget import Unlimited
from chalicelib.clock import FixedClock
from chalicelib.deps import get_deps
from chalicelib.store.audit import AuditItem, day_partitions
from tests.retention_support import (
    NOW,
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
    stored_audit_days,
)
from tests.support import Api


def scheduled_event(client: Client) -> object:
    return client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=["arn:aws:events:rule/purge"]
    )


def start_run(api: Api, body: dict[str, object] | None = None) -> dict[str, object]:
    reply = api.post("/system/retention/purge", body if body is not None else {})
    assert reply.status == 202, reply.json
    return dict(reply.json)


def seed_audit(clock: FixedClock) -> None:
    """30-day policy, cutoff 2026-05-02T12:00Z: 7 events before it, 5 after."""
    add_audit_events(clock, ago(45), 3)  # 2026-04-17: a whole day before the cutoff
    add_audit_events(clock, ago(31), 2)  # 2026-05-01
    add_audit_events(clock, ago(30, hours=1), 2)  # the cutoff's day, before the cutoff
    add_audit_events(clock, ago(30, hours=-1), 2)  # the cutoff's day, after the cutoff
    add_audit_events(clock, ago(29), 1)
    add_audit_events(clock, ago(1), 2)


def test_audit_logs_older_than_the_cutoff_are_purged_and_newer_kept(
    admin: Api,
    clock: FixedClock,
    chalice_client: Client,
) -> None:
    seed_audit(clock)
    set_policy(admin, "audit_logs", 30)

    preview = admin.get("/system/retention/audit_logs/preview")
    assert preview.status == 200
    assert preview.json == {
        "category": "audit_logs",
        "days_to_keep": 30,
        "enabled": True,
        "purgeable": True,
        "cutoff": "2026-05-02T12:00:00.000Z",
        "count": 7,
        "oldest": "2026-04-17T12:00:00.000Z",
    }
    assert len(audit_times()) == 12, "a preview deletes nothing"

    run = start_run(admin)
    assert run["status"] == "pending" and run["trigger"] == "api"
    assert step(run, "audit_logs")["cutoff"] == "2026-05-02T12:00:00.000Z"
    assert admin.get(f"/system/retention/runs/{run['id']}").json["status"] == "pending", "nothing ran in the request"

    drain_purge_queue(chalice_client)
    done = admin.get(f"/system/retention/runs/{run['id']}").json
    assert done["status"] == "completed", done
    assert done["started_at"] and done["ended_at"]
    result = step(done, "audit_logs")
    assert (result["status"], result["matched"], result["deleted"]) == ("completed", 7, 7)

    remaining = audit_times()
    assert len(remaining) == 5
    assert min(remaining) > "2026-05-02T12:00:00.000Z"
    # Whole days before the cutoff's day are gone from the day list; the cutoff's day stays.
    days = get_deps().audit.known_days()
    assert "2026-04-17" not in days and "2026-05-01" not in days and "2026-05-02" in days
    assert stored_audit_days() == {"2026-05-02", "2026-05-03", "2026-05-31", "2026-06-01"}
    assert admin.get("/system/retention/audit_logs/preview").json["count"] == 0


def test_each_run_writes_one_audit_event_with_its_counts(
    admin: Api,
    clock: FixedClock,
    chalice_client: Client,
) -> None:
    add_audit_events(clock, ago(100), 4)
    set_policy(admin, "audit_logs", 30)
    run = start_run(admin)
    drain_purge_queue(chalice_client)
    events = [
        item
        for partition in day_partitions(NOW.strftime("%Y-%m-%d"))
        for item in AuditItem.query(partition)
        if item.action == "retention.purge.run" and item.resource_id == str(run["id"])
    ]
    assert len(events) == 1
    summary = events[0].summary
    assert summary["status"] == "completed"
    assert summary["categories"]["audit_logs"]["deleted"] == 4
    started = [
        item
        for partition in day_partitions(NOW.strftime("%Y-%m-%d"))
        for item in AuditItem.query(partition)
        if item.action == "retention.purge.start"
    ]
    assert len(started) == 1 and started[0].actor == "test-admin"


def test_notifications_sent_and_failed_are_purged_pending_never(
    admin: Api,
    chalice_client: Client,
) -> None:
    add_outbox(101, "sent", ago(60))
    add_outbox(102, "failed", ago(45))
    add_outbox(103, "pending", ago(90))  # old but still pending: kept
    add_outbox(104, "sent", ago(10))  # recent: kept
    add_outbox(105, "failed", ago(30, seconds=1))  # just before the cutoff
    add_outbox(106, "sent", ago(30, seconds=-1))  # just after the cutoff: kept
    set_policy(admin, "notifications", 30)

    preview = admin.get("/system/retention/notifications/preview").json
    assert (preview["count"], preview["oldest"]) == (3, "2026-04-02T12:00:00.000Z")

    run = start_run(admin, {"categories": ["notifications"]})
    drain_purge_queue(chalice_client)
    done = admin.get(f"/system/retention/runs/{run['id']}").json
    assert done["status"] == "completed"
    assert step(done, "notifications")["deleted"] == 3
    assert outbox_ids() == {103, 104, 106}


def test_export_jobs_finished_are_purged_with_their_s3_objects(
    admin: Api,
    chalice_client: Client,
) -> None:
    gone = add_export_job(201, "completed", ago(40)) + add_export_job(202, "failed", ago(35))
    kept = (
        add_export_job(203, "pending", ago(50))
        + add_export_job(204, "running", ago(50))
        + add_export_job(205, "completed", ago(5))
    )
    add_export_job(206, "failed", ago(70), files=False)
    assert s3_keys() == set(gone + kept)
    set_policy(admin, "export_jobs", 30)

    run = start_run(admin, {"categories": ["export_jobs"]})
    drain_purge_queue(chalice_client)
    done = step(admin.get(f"/system/retention/runs/{run['id']}").json, "export_jobs")
    assert (done["status"], done["deleted"], done["objects_deleted"]) == ("completed", 3, 4)
    assert export_job_ids() == {203, 204, 205}
    assert s3_keys() == set(kept)
    assert not s3_keys("exports/201/") and not s3_keys("exports/202/")


def test_a_run_over_every_policy_purges_each_category(
    admin: Api,
    clock: FixedClock,
    chalice_client: Client,
) -> None:
    seed_audit(clock)
    add_outbox(1, "sent", ago(400))
    add_export_job(1, "completed", ago(400))
    for category in ("audit_logs", "notifications", "export_jobs"):
        set_policy(admin, category, 30)
    set_policy(admin, "events", 10)
    run = start_run(admin)
    assert [item["category"] for item in run["categories"]] == ["audit_logs", "events", "export_jobs", "notifications"]
    drain_purge_queue(chalice_client)
    done = admin.get(f"/system/retention/runs/{run['id']}").json
    assert done["status"] == "completed"
    assert {item["category"]: item["deleted"] for item in done["categories"]} == {
        "audit_logs": 7,
        "events": 0,
        "export_jobs": 1,
        "notifications": 1,
    }
    events = step(done, "events")
    assert events["status"] == "skipped" and "not purgeable" in events["reason"]


def test_dry_run_counts_and_deletes_nothing(
    admin: Api,
    clock: FixedClock,
    chalice_client: Client,
) -> None:
    seed_audit(clock)
    add_outbox(1, "sent", ago(60))
    add_export_job(1, "completed", ago(60))
    for category in ("audit_logs", "notifications", "export_jobs"):
        set_policy(admin, category, 30)
    before = (audit_times(), outbox_ids(), export_job_ids(), s3_keys(), get_deps().audit.known_days())

    run = start_run(admin, {"dry_run": True})
    assert run["dry_run"] is True
    drain_purge_queue(chalice_client)
    done = admin.get(f"/system/retention/runs/{run['id']}").json
    assert done["status"] == "completed"
    assert {item["category"]: (item["matched"], item["deleted"]) for item in done["categories"]} == {
        "audit_logs": (7, 0),
        "export_jobs": (1, 0),
        "notifications": (1, 0),
    }
    assert (audit_times(), outbox_ids(), export_job_ids(), s3_keys(), get_deps().audit.known_days()) == before


def test_disabled_policy_is_left_alone(
    admin: Api,
    clock: FixedClock,
    chalice_client: Client,
) -> None:
    add_audit_events(clock, ago(100), 3)
    add_outbox(1, "sent", ago(100))
    set_policy(admin, "audit_logs", 30, enabled=False)
    set_policy(admin, "notifications", 30)
    run = start_run(admin)
    drain_purge_queue(chalice_client)
    done = admin.get(f"/system/retention/runs/{run['id']}").json
    assert done["status"] == "completed"
    audit_step = step(done, "audit_logs")
    assert audit_step["status"] == "skipped" and audit_step["reason"] == "The policy is disabled."
    assert step(done, "notifications")["deleted"] == 1
    assert len(audit_times()) == 3


def test_run_is_skipped_while_the_system_is_in_maintenance(
    admin: Api,
    clock: FixedClock,
    chalice_client: Client,
) -> None:
    add_audit_events(clock, ago(100), 3)
    set_policy(admin, "audit_logs", 30)
    run = start_run(admin)
    assert admin.post("/system/maintenance/state", {"mode": "maintenance", "reason": "upgrade"}).status == 200
    drain_purge_queue(chalice_client)
    done = admin.get(f"/system/retention/runs/{run['id']}").json
    assert done["status"] == "skipped"
    assert done["reason"] == "Skipped: the system is in maintenance mode."
    assert step(done, "audit_logs")["status"] == "skipped"
    assert len(audit_times()) == 3


def test_scheduled_purge_runs_every_enabled_policy_and_skips_in_read_only(
    admin: Api,
    clock: FixedClock,
    chalice_client: Client,
) -> None:
    add_audit_events(clock, ago(100), 3)
    set_policy(admin, "audit_logs", 30)
    admin.post("/system/maintenance/state", {"mode": "read_only"})
    chalice_client.lambda_.invoke("purge_expired", scheduled_event(chalice_client))
    skipped = admin.get("/system/retention/runs").json["items"][0]
    assert (skipped["status"], skipped["trigger"], skipped["requested_by"]) == ("skipped", "schedule", "schedule")
    assert "read_only" in skipped["reason"]
    assert len(audit_times()) == 3

    admin.post("/system/maintenance/state", {"mode": "normal"})
    chalice_client.lambda_.invoke("purge_expired", scheduled_event(chalice_client))
    drain_purge_queue(chalice_client)
    runs = admin.get("/system/retention/runs").json["items"]
    assert [run["status"] for run in runs] == ["completed", "skipped"], "newest first"
    assert step(runs[0], "audit_logs")["deleted"] == 3
    assert audit_times() == []


def test_the_schedule_is_daily_by_default_and_configurable() -> None:
    import os
    import subprocess
    import sys

    from tests.support import ROOT

    script = (
        "import app; print(next(s.schedule_expression for s in app.app.event_sources if s.name == 'purge_expired'));"
        "print(next(s.batch_size for s in app.app.event_sources if s.name == 'process_purge_runs'))"
    )
    env = {**os.environ, "VALHALLA_PURGE_SCHEDULE": "rate(6 hours)"}
    configured = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert configured == ["rate(6", "hours)", "1"]
    import app as application

    default = next(s for s in application.app.event_sources if s.name == "purge_expired")
    assert default.schedule_expression == "cron(0 3 * * ? *)"


def test_runs_are_listed_newest_first_with_pages(admin: Api, clock: FixedClock) -> None:
    set_policy(admin, "temp_data", 3)
    ids = []
    for _ in range(3):
        ids.append(start_run(admin)["id"])
        clock.advance(seconds=1)
    first = admin.get("/system/retention/runs?limit=2").json
    assert [run["id"] for run in first["items"]] == ids[::-1][:2]
    rest = admin.get(f"/system/retention/runs?limit=2&cursor={first['next_cursor']}").json
    assert [run["id"] for run in rest["items"]] == ids[:1]
    assert len(purge_messages()) == 3, "each run was queued once"


def test_a_run_held_by_another_invocation_is_not_processed_twice(
    admin: Api,
    clock: FixedClock,
) -> None:
    add_audit_events(clock, ago(100), 3)
    set_policy(admin, "audit_logs", 30)
    run = start_run(admin)
    purge_messages()
    retention = get_deps().retention
    sent: list[tuple[int, int]] = []
    retention.queue.send = lambda run_id, delay_seconds=0: sent.append((run_id, delay_seconds))  # type: ignore[method-assign]
    held = retention._claim(int(run["id"]), "someone-else", Unlimited())
    assert held is not None
    assert retention.process_run(int(run["id"]), Unlimited()) is None
    assert len(audit_times()) == 3
    assert sent == [(run["id"], 900)], "looked at again when the holder's lease ends"
    clock.advance(seconds=2000)  # the holder died: its lease expired
    finished = retention.process_run(int(run["id"]), Unlimited())
    assert finished is not None and finished.status.value == "completed"
    assert retention.process_run(int(run["id"]), Unlimited()) is None, "a finished run is never processed again"


def test_malformed_purge_messages_are_dropped(chalice_client: Client, clock: FixedClock) -> None:
    event = {
        "Records": [
            {
                "messageId": "m-1",
                "receiptHandle": "r",
                "body": "not json",
                "attributes": {},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                "awsRegion": "us-east-1",
            }
        ]
    }
    assert chalice_client.lambda_.invoke("process_purge_runs", event).payload == {"batchItemFailures": []}
    event["Records"][0]["body"] = json.dumps({"run_id": 12345})
    assert chalice_client.lambda_.invoke("process_purge_runs", event).payload == {"batchItemFailures": []}


def test_preview_of_a_category_without_purger(admin: Api) -> None:
    set_policy(admin, "events", 10)
    preview = admin.get("/system/retention/events/preview").json
    assert preview["purgeable"] is False and preview["count"] is None and preview["oldest"] is None
    assert preview["cutoff"] == "2026-05-22T12:00:00.000Z"
