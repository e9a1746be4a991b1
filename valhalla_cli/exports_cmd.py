"""``valhalla exports ...`` and ``valhalla retention ...``: jobs to start, follow and download."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TransferSpeedColumn,
)

from valhalla_cli.app import JsonFlag, api, app, parse_pairs
from valhalla_cli.client import ApiClient, ApiFailure
from valhalla_cli.output import console, errors, show

exports = typer.Typer(help="Export jobs: create, follow, list, download.", no_args_is_help=True)
retention = typer.Typer(help="Retention policies and purge runs.", no_args_is_help=True)
app.add_typer(exports, name="exports")
app.add_typer(retention, name="retention")

EXPORT_COLUMNS = ["id", "job_type", "status", "format", "progress.rows_written", "row_count", "bytes", "created_at"]
POLICY_COLUMNS = ["category", "days_to_keep", "enabled", "archive", "purgeable", "updated_at"]
POLL_SECONDS = 0.5
FINISHED_JOB = ("completed", "failed")
FINISHED_RUN = ("completed", "skipped", "failed")
DATED_TYPES = ("audit_log_export", "notification_export")
DATE_KEYS = {"start_date", "end_date", "before_date"}


def with_default_range(job_type: str, filters: dict[str, Any]) -> dict[str, Any]:
    """A dated export without dates covers everything until now (the API wants a range)."""
    if job_type in DATED_TYPES and not DATE_KEYS & set(filters):
        tomorrow = datetime.now(UTC) + timedelta(days=1)
        return {**filters, "before_date": tomorrow.strftime("%Y-%m-%d")}
    return filters


def _progress(*extra: Any) -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), *extra, console=errors, transient=False)


def wait_for_export(client: ApiClient, job: dict[str, Any], quiet: bool) -> dict[str, Any]:
    """Poll the job until it finishes; people see rows and bytes written, and a bar toward the
    source's segments (days, statuses) when there are several, else a pulsing one."""
    columns = (BarColumn(), TaskProgressColumn(), TextColumn("{task.fields[rows]} rows, {task.fields[size]}"))
    with _progress(*columns) as bar:
        task = bar.add_task(f"export {job['id']} {job['status']}", total=None, rows=0, size="0 B", visible=not quiet)
        while job["status"] not in FINISHED_JOB:
            time.sleep(POLL_SECONDS)
            job = client.get(f"/system/exports/{job['id']}")
            progress = job["progress"]
            total = progress.get("segments_total")
            bar.update(
                task,
                description=f"export {job['id']} {job['status']}",
                rows=progress["rows_written"],
                size=decimal(progress["bytes_uploaded"]),
                total=total if total and total > 1 else None,
                completed=progress.get("segments_read") or 0,
            )
        done = job.get("row_count") or job["progress"]["rows_written"]
        size = decimal(job.get("bytes") or job["progress"]["bytes_uploaded"])
        bar.update(task, description=f"export {job['id']} {job['status']}", rows=done, size=size, total=1, completed=1)
    return job


def download_to(client: ApiClient, job_id: int, output: Path | None, quiet: bool) -> Path:
    link = client.get(f"/system/exports/{job_id}/download")
    size, chunks = client.stream(link["url"])
    job = client.get(f"/system/exports/{job_id}")
    target = output or Path(f"export-{job_id}.{job['format']}.gz")
    with _progress(BarColumn(), DownloadColumn(), TransferSpeedColumn()) as bar:
        task = bar.add_task(f"download {target.name}", total=size, visible=not quiet)
        with target.open("wb") as out:
            for chunk in chunks:
                out.write(chunk)
                bar.advance(task, len(chunk))
    return target


@exports.command("create")
def exports_create(
    ctx: typer.Context,
    job_type: Annotated[str, typer.Option("--type", help="audit_log_export, notification_export, config_snapshot...")],
    filters: Annotated[list[str] | None, typer.Option("--filter", help="KEY=VALUE, repeatable")] = None,
    export_format: Annotated[str | None, typer.Option("--format", help="jsonl or csv")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the job to its end with a progress bar.")] = False,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="With --wait: download it here.")] = None,
    json: JsonFlag = False,
) -> None:
    """Start an export job (operator); with --wait, follow it and download the result."""
    client = api(ctx)
    body: dict[str, Any] = {
        "job_type": job_type,
        "filter_params": with_default_range(job_type, parse_pairs(filters, "--filter")),
    }
    if export_format:
        body["format"] = export_format
    job = client.post("/system/exports/", body)
    if wait:
        job = wait_for_export(client, job, quiet=json)
        if job["status"] == "completed" and not json:
            path = download_to(client, job["id"], output, quiet=False)
            console.print(f"Export {job['id']}: {job.get('row_count')} rows, saved to {path}")
        if job["status"] == "failed":
            show(job, json)
            raise ApiFailure(None, f"Export {job['id']} failed: {job.get('error_message')}")
    show(job, json, title=f"Export {job['id']}")


@exports.command("get")
def exports_get(
    ctx: typer.Context, job_id: Annotated[int, typer.Argument(metavar="ID")], json: JsonFlag = False
) -> None:
    """One export job, with its progress."""
    show(api(ctx).get(f"/system/exports/{job_id}"), json)


@exports.command("list")
def exports_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="pending, running, completed, failed")] = None,
    job_type: Annotated[str | None, typer.Option("--type")] = None,
    limit: int = 50,
    cursor: str | None = None,
    json: JsonFlag = False,
) -> None:
    """Export jobs, newest first."""
    page = api(ctx).get("/system/exports/", status=status, job_type=job_type, limit=limit, cursor=cursor)
    show(page, json, EXPORT_COLUMNS)


@exports.command("download")
def exports_download(
    ctx: typer.Context,
    job_id: Annotated[int, typer.Argument(metavar="ID")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File to write (default export-ID.FORMAT.gz).")
    ] = None,
    json: JsonFlag = False,
) -> None:
    """Download a completed export's file (gzip), with a progress bar."""
    path = download_to(api(ctx), job_id, output, quiet=json)
    if json:
        show({"job_id": job_id, "path": str(path), "bytes": path.stat().st_size}, True)
    else:
        console.print(f"Saved {path} ({path.stat().st_size} bytes)")


@retention.command("list")
def retention_list(ctx: typer.Context, json: JsonFlag = False) -> None:
    """Retention policies."""
    show(api(ctx).get("/system/retention/", limit=100), json, POLICY_COLUMNS)


@retention.command("set")
def retention_set(
    ctx: typer.Context,
    category: Annotated[str, typer.Argument()],
    days: Annotated[int, typer.Option("--days", help="Days to keep.")],
    disabled: Annotated[bool, typer.Option("--disabled", help="Keep the policy but do not purge.")] = False,
    archive: Annotated[bool, typer.Option("--archive", help="Export what is purged first.")] = False,
    json: JsonFlag = False,
) -> None:
    """Create or change a category's policy (admin)."""
    body = {"category": category, "days_to_keep": days, "enabled": not disabled, "archive": archive}
    show(api(ctx).post("/system/retention/", body), json)


@retention.command("preview")
def retention_preview(ctx: typer.Context, category: Annotated[str, typer.Argument()], json: JsonFlag = False) -> None:
    """What a purge of the category would delete now (deletes nothing)."""
    show(api(ctx).get(f"/system/retention/{category}/preview"), json)


@retention.command("purge")
def retention_purge(
    ctx: typer.Context,
    categories: Annotated[list[str] | None, typer.Argument(help="Categories (default: every enabled policy).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count, delete nothing.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the run to its end.")] = False,
    json: JsonFlag = False,
) -> None:
    """Start a purge run (admin); with --wait, follow it."""
    client = api(ctx)
    body: dict[str, Any] = {"dry_run": dry_run}
    if categories:
        body["categories"] = categories
    run = client.post("/system/retention/purge", body)
    if wait:
        with _progress(BarColumn(), TextColumn("{task.fields[done]} records")) as bar:
            task = bar.add_task(f"purge run {run['id']} {run['status']}", total=None, done=0, visible=not json)
            while run["status"] not in FINISHED_RUN:
                time.sleep(POLL_SECONDS)
                run = client.get(f"/system/retention/runs/{run['id']}")
                done = sum(step["matched" if dry_run else "deleted"] for step in run["categories"])
                bar.update(task, description=f"purge run {run['id']} {run['status']}", done=done)
            bar.update(task, total=1, completed=1)
    if json:
        show(run, True)
    else:
        show(
            run["categories"],
            False,
            ["category", "status", "cutoff", "matched", "deleted", "reason"],
            f"Run {run['id']} {run['status']}",
        )
