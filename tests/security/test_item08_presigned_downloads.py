"""Item 8: a download is presigned only for the job's own files; storage_url must be s3://."""

from __future__ import annotations

from chalicelib.deps import get_deps
from tests.export_support import drain
from tests.support import Api


def completed_builtin(api: Api) -> dict:
    created = api.post("/system/exports", {"job_type": "config_snapshot"})
    assert created.status == 201, created.json
    drain()
    job = api.get(f"/system/exports/{created.json['id']}").json
    assert job["status"] == "completed"
    return dict(job)


def test_item08_an_external_job_cannot_point_at_another_jobs_files(api: Api) -> None:
    victim = completed_builtin(api)
    external = api.post("/system/exports", {"job_type": "partner_sync"}).json

    stolen = api.post(
        f"/system/exports/{external['id']}/status", {"status": "completed", "storage_url": victim["storage_url"]}
    )

    assert stolen.status == 422, stolen.json
    assert stolen.json["detail"][0]["loc"] == ["body", "storage_url"]
    assert api.get(f"/system/exports/{external['id']}").json["status"] == "pending"
    assert api.get(f"/system/exports/{external['id']}/download").status == 409


def test_item08_download_presigns_only_under_the_jobs_own_prefix(api: Api) -> None:
    """A job stored (before this check) with another job's key gets no presigned URL."""
    victim = completed_builtin(api)
    external = api.post("/system/exports", {"job_type": "partner_sync"}).json
    from chalicelib.store.exports import ExportJobItem

    item = ExportJobItem.get(external["id"])
    item.update(actions=[ExportJobItem.status.set("completed"), ExportJobItem.storage_url.set(victim["storage_url"])])

    reply = api.get(f"/system/exports/{external['id']}/download")

    assert reply.status == 409, reply.json
    assert "url" not in reply.json
    assert api.get(f"/system/exports/{victim['id']}/download").status == 200


def test_item08_own_prefix_in_the_exports_bucket_is_accepted(api: Api) -> None:
    external = api.post("/system/exports", {"job_type": "partner_sync"}).json
    bucket = get_deps().settings.exports_bucket
    own = f"s3://{bucket}/exports/{external['id']}/result.csv"

    done = api.post(f"/system/exports/{external['id']}/status", {"status": "completed", "storage_url": own})

    assert done.status == 200, done.json
    assert done.json["storage_url"] == own


def test_item08_storage_url_must_be_s3(api: Api) -> None:
    external = api.post("/system/exports", {"job_type": "partner_sync"}).json

    for url in ("https://evil.example/login", "http://files.example/x", "javascript:alert(1)"):
        reply = api.post(f"/system/exports/{external['id']}/status", {"status": "completed", "storage_url": url})
        assert reply.status == 422, (url, reply.json)
    assert api.get(f"/system/exports/{external['id']}").json["storage_url"] is None
    seed = api.post(
        f"/system/exports/{external['id']}/status",
        {"status": "completed", "storage_url": "s3://bucket/exports/job-123.csv"},
    )
    assert seed.status == 200, seed.json
