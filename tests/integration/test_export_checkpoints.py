"""Export checkpoints every N pages, not every page: resumable and cancellable within that bound."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.clock import isoformat
from chalicelib.deps import get_deps
from chalicelib.store.exports import ExportJobItem
from chalicelib.workers.exports import ExportWorker, run_export_message
from tests.export_support import PLENTY, keys_under, open_uploads, read_rows
from tests.support import Api

KEYS = 60  # each key made through the API leaves one ``key.create`` audit event
FILTERS = {"before_date": "2999-01-01", "action": "key.create"}


class Crash(BaseException):
    """The invocation dies (timeout, out of memory): nothing in the worker catches it."""


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the emulated S3 take parts below 5 MiB, so that a few rows make many parts."""
    monkeypatch.setattr("moto.s3.models.S3_UPLOAD_PART_MIN_SIZE", 1)


class Pages:
    """Counts the pages the worker's source yields, and runs ``on_page`` as each one comes."""

    def __init__(self) -> None:
        self.count = 0
        self.on_page: Any = None

    def watch(self, worker: ExportWorker, monkeypatch: pytest.MonkeyPatch) -> None:
        original = worker._source

        def source(item: ExportJobItem) -> Any:
            real = original(item)
            pages = real.pages

            def counted(*args: Any) -> Iterator[Any]:
                for page in pages(*args):
                    self.count += 1
                    if self.on_page is not None:
                        self.on_page(self.count)
                    yield page

            monkeypatch.setattr(real, "pages", counted)
            return real

        monkeypatch.setattr(worker, "_source", source)


def make_keys(api: Api) -> set[str]:
    made = set()
    for index in range(KEYS):
        reply = api.post("/system/keys", {"name": f"checkpoint-{index}", "role": "viewer"})
        assert reply.status == 201, reply.json
        made.add(str(reply.json["id"]))
    return made


def start_export(api: Api) -> int:
    created = api.post("/system/exports/", {"job_type": "audit_log_export", "filter_params": FILTERS})
    assert created.status == 201, created.json
    return int(created.json["id"])


def test_an_interrupted_export_resumes_from_its_last_checkpoint(
    api: Api, small_parts: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = make_keys(api)
    job_id = start_export(api)
    pages = Pages()
    worker = ExportWorker(get_deps(), part_bytes=200, page_rows=5, mem_level=1, checkpoint_pages=3)
    pages.watch(worker, monkeypatch)

    def crash(pages: int) -> None:
        if pages == 8:
            raise Crash()

    pages.on_page = crash
    with pytest.raises(Crash):
        run_export_message({"job_id": job_id}, lambda: PLENTY, worker)
    interrupted = ExportJobItem.get(job_id)
    saved_rows = int(interrupted.checkpoint["rows"])
    assert interrupted.status == "running" and 0 < saved_rows < 8 * 5  # parts stored after it are not saved
    # The dead run's lease runs out; the message comes back to a fresh worker.
    lapsed = isoformat(get_deps().clock() - timedelta(seconds=1))
    interrupted.update(actions=[ExportJobItem.lease_until.set(lapsed)])
    again = Pages()
    resumed = ExportWorker(get_deps(), part_bytes=200, page_rows=5, mem_level=1)
    again.watch(resumed, monkeypatch)
    assert run_export_message({"job_id": job_id}, lambda: PLENTY, resumed) == "completed"

    assert again.count <= (KEYS - saved_rows) // 5 + 1  # from the checkpoint on, not from the start
    job = api.get(f"/system/exports/{job_id}").json
    rows = read_rows(job["storage_url"])
    assert sorted(row["resource_id"] for row in rows) == sorted(made)  # every row once
    assert job["row_count"] == KEYS and job["progress"]["invocations"] == 2
    assert open_uploads() == []


def test_a_cancel_is_seen_within_the_checkpoint_interval(
    api: Api, small_parts: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_keys(api)
    job_id = start_export(api)
    pages = Pages()
    worker = ExportWorker(get_deps(), part_bytes=10_000_000, page_rows=5, mem_level=1, checkpoint_pages=4)
    pages.watch(worker, monkeypatch)
    cancelled_at: list[int] = []

    def cancel(pages: int) -> None:
        if pages == 2:
            assert api.post(f"/system/exports/{job_id}/cancel").status == 200
            cancelled_at.append(pages)

    pages.on_page = cancel
    assert run_export_message({"job_id": job_id}, lambda: PLENTY, worker) == "cancelled"
    # A progress write every 4 pages: one of the next 4 sees the cancel, long before the export's end.
    assert pages.count - cancelled_at[0] <= 4 < KEYS // 5 - cancelled_at[0]
    job = api.get(f"/system/exports/{job_id}").json
    assert job["status"] == "failed" and job["storage_url"] is None
    assert keys_under(f"exports/{job_id}/") == [] and open_uploads() == []


def test_a_quick_export_writes_its_job_twice_not_once_per_page(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    make_keys(api)
    job_id = start_export(api)
    pages = Pages()
    worker = ExportWorker(get_deps(), page_rows=5)  # 12 pages, under the default 20 between checkpoints
    pages.watch(worker, monkeypatch)
    updates: list[str] = []
    client = ExportJobItem._get_connection().connection.client

    def count(**kwargs: Any) -> None:
        if kwargs["params"].get("TableName") == ExportJobItem.Meta.table_name:  # the client serves every table
            updates.append(kwargs["event_name"])

    client.meta.events.register("before-parameter-build.dynamodb.UpdateItem", count, unique_id="export-update-counter")
    try:
        assert run_export_message({"job_id": job_id}, lambda: PLENTY, worker) == "completed"
    finally:
        client.meta.events.unregister("before-parameter-build.dynamodb.UpdateItem", unique_id="export-update-counter")
    assert pages.count >= 12
    assert len(updates) == 2  # claimed (running), completed
    assert api.get(f"/system/exports/{job_id}").json["row_count"] == KEYS
