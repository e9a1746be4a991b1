"""Export jobs through the API: the seed's coverage list, plus validation, transitions, cancel, download."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
import requests

from chalicelib.domain.common import Role
from tests.export_support import drain, keys_under, read_rows
from tests.support import Api

AUDIT_RANGE = {"start_date": "2000-01-01", "end_date": "2999-12-31"}


def create(api: Api, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
    reply = api.post("/system/exports/", body, **kw)
    assert reply.status == 201, reply.json
    return dict(reply.json)


# --- the seed's coverage: creation, listing, filtering, status updates, errors ----------------


def test_job_is_created_pending_with_and_without_filter_params(api: Api) -> None:
    with_filters = create(
        api,
        {
            "job_type": "audit_log_export",
            "filter_params": {"start_date": "2024-01-01", "end_date": "2024-01-31"},
            "requested_by": "admin@example.com",
        },
    )
    assert with_filters["status"] == "pending"
    assert with_filters["job_type"] == "audit_log_export"
    assert with_filters["filter_params"] == {"start_date": "2024-01-01", "end_date": "2024-01-31"}
    assert with_filters["requested_by"] == "admin@example.com"
    assert with_filters["principal"] == "test-admin"
    assert with_filters["format"] == "jsonl"
    assert with_filters["created_at"].endswith("Z")
    for empty in ("completed_at", "storage_url", "error_message", "row_count", "bytes"):
        assert with_filters[empty] is None
    assert with_filters["progress"]["rows_written"] == 0

    without = create(api, {"job_type": "report_export"})
    assert without["status"] == "pending" and without["filter_params"] is None
    assert without["requested_by"] is None
    assert without["id"] != with_filters["id"]
    fetched = api.get(f"/system/exports/{without['id']}").json
    assert fetched["id"] == without["id"] and fetched["job_type"] == "report_export"


def test_jobs_are_listed_newest_first_and_filtered_by_status_and_type(api: Api) -> None:
    first = create(api, {"job_type": "report_export"})
    second = create(api, {"job_type": "billing_export"})
    third = create(api, {"job_type": "report_export"})
    api.post(f"/system/exports/{second['id']}/status", {"status": "running"})

    listed = api.get("/system/exports/").json["items"]
    assert [job["id"] for job in listed] == [third["id"], second["id"], first["id"]]
    running = api.get("/system/exports/?status=running").json["items"]
    assert [job["id"] for job in running] == [second["id"]]
    pending_reports = api.get("/system/exports/?status=pending&job_type=report_export").json["items"]
    assert [job["id"] for job in pending_reports] == [third["id"], first["id"]]
    assert api.get("/system/exports/?job_type=billing_export").json["items"][0]["status"] == "running"
    assert api.get("/system/exports/?status=completed").json["items"] == []


def test_list_paginates(api: Api) -> None:
    made = [create(api, {"job_type": "report_export"})["id"] for _ in range(5)]
    first = api.get("/system/exports/?limit=2").json
    assert len(first["items"]) == 2 and first["next_cursor"]
    seen = [job["id"] for job in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = api.get(f"/system/exports/?limit=2&cursor={cursor}").json
        seen += [job["id"] for job in page["items"]]
        cursor = page["next_cursor"]
    assert seen == list(reversed(made))


def test_status_update_with_completion_info(api: Api) -> None:
    job = create(api, {"job_type": "report_export", "requested_by": "ops"})
    running = api.post(f"/system/exports/{job['id']}/status", {"status": "running"})
    assert running.status == 200 and running.json["status"] == "running"
    done = api.post(
        f"/system/exports/{job['id']}/status",
        {"status": "completed", "storage_url": "s3://bucket/exports/job-123.csv"},
    )
    assert done.status == 200
    assert done.json["status"] == "completed"
    assert done.json["storage_url"] == "s3://bucket/exports/job-123.csv"
    assert done.json["completed_at"]
    failed = create(api, {"job_type": "report_export"})
    reply = api.post(f"/system/exports/{failed['id']}/status", {"status": "failed", "error_message": "disk full"})
    assert reply.json["status"] == "failed" and reply.json["error_message"] == "disk full"


@pytest.mark.parametrize(
    ("path", "then", "status"),
    [
        ([], "pending", 409),
        ([], "bogus", 422),
        (["running"], "running", 409),
        (["running"], "pending", 409),
        (["completed"], "running", 409),
        (["completed"], "failed", 409),
        (["failed"], "completed", 409),
        (["failed"], "running", 409),
    ],
)
def test_illegal_transitions_are_409(api: Api, path: list[str], then: str, status: int) -> None:
    job = create(api, {"job_type": "report_export"})
    for step in path:
        body: dict[str, Any] = {"status": step}
        if step == "completed":
            body["storage_url"] = "s3://bucket/key"
        assert api.post(f"/system/exports/{job['id']}/status", body).status == 200
    body = {"status": then}
    if then == "completed":
        body["storage_url"] = "s3://bucket/key"
    reply = api.post(f"/system/exports/{job['id']}/status", body)
    assert reply.status == status, reply.json
    assert api.get(f"/system/exports/{job['id']}").json["status"] == (path[-1] if path else "pending")


def test_completed_needs_a_storage_url_and_built_in_jobs_take_no_reports(api: Api) -> None:
    job = create(api, {"job_type": "report_export"})
    reply = api.post(f"/system/exports/{job['id']}/status", {"status": "completed"})
    assert reply.status == 422
    built_in = create(api, {"job_type": "config_snapshot"})
    reply = api.post(f"/system/exports/{built_in['id']}/status", {"status": "failed"})
    assert reply.status == 409 and "cancel" in reply.json["detail"]


def test_errors_unknown_job_bad_id_and_roles(api: Api, tokens: dict[Role, str]) -> None:
    assert api.get("/system/exports/999").status == 404
    assert api.post("/system/exports/999/status", {"status": "running"}).status == 404
    assert api.post("/system/exports/999/cancel").status == 404
    assert api.get("/system/exports/999/download").status == 404
    assert api.get("/system/exports/abc").status == 422
    viewer = api.as_(tokens[Role.viewer])
    assert viewer.post("/system/exports/", {"job_type": "report_export"}).status == 403
    assert viewer.get("/system/exports/").status == 200
    operator = api.as_(tokens[Role.operator])
    job = operator.post("/system/exports/", {"job_type": "report_export"})
    assert job.status == 201 and job.json["principal"] == "test-operator"
    assert operator.post(f"/system/exports/{job.json['id']}/cancel").status == 200


def test_writes_are_audited(api: Api) -> None:
    job = create(api, {"job_type": "report_export"})
    api.post(f"/system/exports/{job['id']}/cancel")
    actions = [event["action"] for event in api.get("/system/audit").json["items"]]
    assert actions[:2] == ["export.cancel", "export.create"]


def test_idempotency_key_returns_the_first_job(api: Api) -> None:
    body = {"job_type": "report_export", "requested_by": "ops"}
    first = api.post("/system/exports/", body, headers={"Idempotency-Key": "abc-1"})
    again = api.post("/system/exports/", body, headers={"Idempotency-Key": "abc-1"})
    assert first.status == again.status == 201
    assert first.json["id"] == again.json["id"]
    assert len(api.get("/system/exports/").json["items"]) == 1
    other = api.post("/system/exports/", {"job_type": "other_export"}, headers={"Idempotency-Key": "abc-1"})
    assert other.status == 409
    fresh = api.post("/system/exports/", body, headers={"Idempotency-Key": "abc-2"})
    assert fresh.json["id"] != first.json["id"]


def test_writes_are_blocked_in_read_only_mode_but_reads_work(api: Api) -> None:
    job = create(api, {"job_type": "report_export"})
    api.post("/system/maintenance/state", {"mode": "read_only"})
    blocked = api.post("/system/exports/", {"job_type": "report_export"})
    assert blocked.status == 503 and blocked.json["mode"] == "read_only"
    assert api.post(f"/system/exports/{job['id']}/cancel").status == 503
    assert api.post(f"/system/exports/{job['id']}/status", {"status": "running"}).status == 503
    assert api.get("/system/exports/").status == 200
    assert api.get(f"/system/exports/{job['id']}").json["status"] == "pending"


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({}, ["body", "job_type"]),
        ({"job_type": ""}, ["body", "job_type"]),
        ({"job_type": "Has Spaces"}, ["body", "job_type"]),
        ({"job_type": "x" * 129}, ["body", "job_type"]),
        ({"job_type": 5}, ["body", "job_type"]),
        ({"job_type": "report_export", "format": "xml"}, ["body", "format"]),
        ({"job_type": "report_export", "requested_by": ""}, ["body", "requested_by"]),
        ({"job_type": "report_export", "requested_by": "a\nb"}, ["body", "requested_by"]),
        ({"job_type": "report_export", "requested_by": "x" * 257}, ["body", "requested_by"]),
        ({"job_type": "report_export", "notify_channel_id": 0}, ["body", "notify_channel_id"]),
        ({"job_type": "report_export", "notify_channel_id": True}, ["body", "notify_channel_id"]),
        ({"job_type": "report_export", "notify_channel_id": "one"}, ["body", "notify_channel_id"]),
        ({"job_type": "report_export", "notify_channel_id": 424242}, ["body", "notify_channel_id"]),
        ({"job_type": "report_export", "filter_params": [1]}, ["body", "filter_params"]),
        ({"job_type": "report_export", "filter_params": {"x": "y" * 9000}}, ["body", "filter_params"]),
        ({"job_type": "report_export", "surprise": 1}, ["body", "surprise"]),
        ({"job_type": "audit_log_export"}, ["body", "filter_params"]),
        ({"job_type": "audit_log_export", "filter_params": {"start_date": "2024-01-01"}}, ["body", "filter_params"]),
        (
            {"job_type": "audit_log_export", "filter_params": {**AUDIT_RANGE, "colour": "red"}},
            ["body", "filter_params", "colour"],
        ),
        (
            {"job_type": "audit_log_export", "filter_params": {"start_date": "2024-13-01", "end_date": "2024-12-31"}},
            ["body", "filter_params", "start_date"],
        ),
        (
            {"job_type": "audit_log_export", "filter_params": {"start_date": "yesterday", "end_date": "2024-12-31"}},
            ["body", "filter_params", "start_date"],
        ),
        (
            {"job_type": "audit_log_export", "filter_params": {"start_date": "2024-01-01", "end_date": 20240131}},
            ["body", "filter_params", "end_date"],
        ),
        (
            {
                "job_type": "audit_log_export",
                "filter_params": {"start_date": "2024-01-01T00:00:00", "end_date": "2024-01-02"},
            },
            ["body", "filter_params", "start_date"],
        ),
        (
            {"job_type": "audit_log_export", "filter_params": {"start_date": "2024-02-01", "end_date": "2024-01-31"}},
            ["body", "filter_params"],
        ),
        (
            {"job_type": "audit_log_export", "filter_params": {**AUDIT_RANGE, "before_date": "2024-01-01"}},
            ["body", "filter_params"],
        ),
        (
            {"job_type": "audit_log_export", "filter_params": {**AUDIT_RANGE, "actor": ""}},
            ["body", "filter_params", "actor"],
        ),
        (
            {"job_type": "audit_log_export", "filter_params": {**AUDIT_RANGE, "action": "x" * 129}},
            ["body", "filter_params", "action"],
        ),
        (
            {"job_type": "notification_export", "filter_params": {**AUDIT_RANGE, "status": "lost"}},
            ["body", "filter_params", "status"],
        ),
        (
            {"job_type": "notification_export", "filter_params": {**AUDIT_RANGE, "channel_id": -1}},
            ["body", "filter_params", "channel_id"],
        ),
        (
            {"job_type": "notification_export", "filter_params": {"before_date": "not a date"}},
            ["body", "filter_params", "before_date"],
        ),
        ({"job_type": "config_snapshot", "filter_params": {"start_date": "2024-01-01"}}, None),
    ],
)
def test_validation_errors_for_every_field(api: Api, body: dict[str, Any], loc: list[str] | None) -> None:
    reply = api.post("/system/exports/", body)
    assert reply.status == 422, reply.json
    locations = [error["loc"] for error in reply.json["detail"]]
    if loc is not None:
        assert any(found[: len(loc)] == loc for found in locations), locations
    assert api.get("/system/exports/").json["items"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"status": "completed", "storage_url": "ftp://bucket/key"},
        {"status": "completed", "storage_url": "s3://bucket key"},
        {"status": "completed", "storage_url": "s3://b/" + "k" * 1100},
        {"status": "running", "storage_url": "s3://bucket/key"},
        {"status": "running", "error_message": "nope"},
        {"status": "failed", "error_message": "x" * 2001},
        {"status": "failed", "error_message": "bell\x07"},
        {"status": "failed", "extra": 1},
        {},
    ],
)
def test_status_update_validation(api: Api, body: dict[str, Any]) -> None:
    job = create(api, {"job_type": "report_export"})
    reply = api.post(f"/system/exports/{job['id']}/status", body)
    assert reply.status == 422, reply.json
    assert api.get(f"/system/exports/{job['id']}").json["status"] == "pending"


def test_list_query_validation(api: Api) -> None:
    assert api.get("/system/exports/?status=lost").status == 422
    assert api.get("/system/exports/?job_type=Bad%20Type").status == 422
    assert api.get("/system/exports/?limit=0").status == 422
    assert api.get("/system/exports/?cursor=!!!").status == 422


def test_dates_and_before_date_are_accepted_in_every_form(api: Api) -> None:
    job = create(
        api,
        {
            "job_type": "audit_log_export",
            "filter_params": {"start_date": "2024-01-01T10:00:00+02:00", "end_date": "2024-01-01T12:00:00.5Z"},
        },
    )
    assert job["filter_params"] == {"start_date": "2024-01-01T08:00:00.000Z", "end_date": "2024-01-01T12:00:00.500Z"}
    before = create(api, {"job_type": "notification_export", "filter_params": {"before_date": "2024-06-01"}})
    assert before["filter_params"] == {"before_date": "2024-06-01"}
    same_day = create(
        api, {"job_type": "audit_log_export", "filter_params": {"start_date": "2024-01-31", "end_date": "2024-01-31"}}
    )
    assert same_day["status"] == "pending"


# --- cancel and download ----------------------------------------------------------------------


def test_cancel_marks_a_pending_job_failed_with_who_cancelled_it(api: Api) -> None:
    job = create(api, {"job_type": "audit_log_export", "filter_params": AUDIT_RANGE})
    cancelled = api.post(f"/system/exports/{job['id']}/cancel")
    assert cancelled.status == 200
    assert cancelled.json["status"] == "failed"
    assert "Cancelled by test-admin" in cancelled.json["error_message"]
    assert api.post(f"/system/exports/{job['id']}/cancel").status == 409
    assert drain() == ["failed"]  # the worker's message finds the job cancelled and leaves it
    assert api.get(f"/system/exports/{job['id']}").json["status"] == "failed"
    assert keys_under(f"exports/{job['id']}/") == []


def test_download_is_409_until_completed_then_a_working_presigned_url(api: Api) -> None:
    api.post("/system/maintenance/state", {"mode": "normal", "reason": "before the export"})
    job = create(api, {"job_type": "audit_log_export", "filter_params": AUDIT_RANGE})
    early = api.get(f"/system/exports/{job['id']}/download")
    assert early.status == 409 and "pending" in early.json["detail"]
    assert drain() == ["completed"]
    done = api.get(f"/system/exports/{job['id']}").json
    assert done["status"] == "completed" and done["row_count"] >= 1
    link = api.get(f"/system/exports/{job['id']}/download")
    assert link.status == 200
    assert link.json["expires_at"].endswith("Z")
    assert "X-Amz-Expires=900" in link.json["url"] and "X-Amz-Signature=" in link.json["url"]
    fetched = requests.get(link.json["url"], timeout=10)
    assert fetched.status_code == 200
    rows = [json.loads(line) for line in gzip.decompress(fetched.content).decode().splitlines()]
    assert any(row["action"] == "maintenance.set" and row["actor"] == "test-admin" for row in rows)
    assert rows == read_rows(done["storage_url"])


def test_download_of_an_external_job_stored_elsewhere_is_409(api: Api) -> None:
    job = create(api, {"job_type": "report_export"})
    api.post(f"/system/exports/{job['id']}/status", {"status": "completed", "storage_url": "s3://partner-files/x"})
    reply = api.get(f"/system/exports/{job['id']}/download")
    assert reply.status == 409 and "outside" in reply.json["detail"]


def test_external_jobs_are_not_run_by_the_worker(api: Api) -> None:
    job = create(api, {"job_type": "report_export"})
    assert drain() == []
    assert api.get(f"/system/exports/{job['id']}").json["status"] == "pending"
