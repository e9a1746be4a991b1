"""S3 failing in the middle of an export: the job says failed, the upload is aborted, nothing is left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.clock import FixedClock
from chalicelib.deps import get_deps
from chalicelib.domain.common import Principal, Role
from chalicelib.services.audit import AuditLog
from chalicelib.workers.exports import ExportWorker
from tests.export_support import drain, keys_under, open_uploads
from tests.reliability.faults import Faults
from tests.support import Api

ALICE = Principal(key_id=7, name="alice", role=Role.admin)


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the emulated S3 take parts below 5 MiB, so that a few rows make many parts."""
    monkeypatch.setattr("moto.s3.models.S3_UPLOAD_PART_MIN_SIZE", 1)


def seed(days: int = 2, per_day: int = 40) -> None:
    clock = FixedClock(datetime(2024, 1, 1, tzinfo=UTC))
    log = AuditLog(clock)
    for day in range(days):
        clock.now = datetime(2024, 1, 1, 1, tzinfo=UTC) + timedelta(days=day)
        for index in range(per_day):
            clock.advance(minutes=1)
            log.record(ALICE, "thing.create", "thing", f"{day}-{index}", {"n": index})


def nth_call(count: int) -> Any:
    seen = {"n": 0}

    def matches(service: str, operation: str, params: dict[str, Any]) -> bool:
        seen["n"] += 1
        return seen["n"] >= count

    return matches


FAULTS = {
    "third part upload": ("UploadPart", "InternalError", nth_call(3)),
    "completing the upload": ("CompleteMultipartUpload", "InternalError", None),
    "writing the manifest": ("PutObject", "SlowDown", None),
}


@pytest.mark.parametrize("where", list(FAULTS), ids=list(FAULTS))
def test_s3_failing_mid_export_fails_the_job_and_aborts_the_upload(
    api: Api, faults: Faults, small_parts: None, where: str
) -> None:
    seed()
    operation, code, when = FAULTS[where]
    created = api.post(
        "/system/exports", {"job_type": "audit_log_export", "filter_params": {"before_date": "2025-01-01"}}
    )
    assert created.status == 201, created.json
    job_id = created.json["id"]
    faults.fail("s3", operation, code, when=when, status=500)
    worker = ExportWorker(get_deps(), part_bytes=300, page_rows=5, mem_level=1)
    outcomes = drain(worker=worker)
    assert faults.rules[0].fired >= 1, where
    # THEN the job says failed, with the reason, and is not reported as done
    job = api.get(f"/system/exports/{job_id}").json
    assert job["status"] == "failed", (where, outcomes, job)
    assert job["error_message"] and job["storage_url"] is None and job["completed_at"] is None
    assert api.get(f"/system/exports/{job_id}/download").status == 409
    # and nothing is left behind: no object, no open multipart upload
    faults.clear()
    assert keys_under(f"exports/{job_id}/") == []
    assert open_uploads() == []
    if operation != "PutObject":
        assert faults.of("s3", "AbortMultipartUpload"), "the upload was aborted"


def test_a_failed_abort_still_fails_the_job(api: Api, faults: Faults, small_parts: None) -> None:
    seed()
    created = api.post(
        "/system/exports", {"job_type": "audit_log_export", "filter_params": {"before_date": "2025-01-01"}}
    )
    faults.fail("s3", "UploadPart", "InternalError", when=nth_call(2), status=500)
    faults.fail("s3", "AbortMultipartUpload", "InternalError", status=500)
    drain(worker=ExportWorker(get_deps(), part_bytes=300, page_rows=5, mem_level=1))
    job = api.get(f"/system/exports/{created.json['id']}").json
    assert job["status"] == "failed" and job["storage_url"] is None
