"""``valhalla notify replay ...``: re-queue the failed notifications of a time range (bulk recovery)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

from valhalla_cli.app import JsonFlag, api
from valhalla_cli.notify_cmd import notify
from valhalla_cli.output import errors, show

REPLAY_COLUMNS = ["id", "status", "channel_id", "since", "until", "matched", "replayed", "skipped", "dry_run"]
FINISHED_REPLAY = ("completed", "cancelled", "failed")
POLL_SECONDS = 0.5


@notify.command("replay")
def notify_replay(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option(help="ISO time (default: an hour ago).")] = None,
    until: Annotated[str | None, typer.Option(help="ISO time (default: now).")] = None,
    channel_id: Annotated[int | None, typer.Option("--channel-id", help="Only this channel's notifications.")] = None,
    to_channel_id: Annotated[int | None, typer.Option("--to-channel-id", help="Copy each to this channel.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count the matches; change nothing.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the replay to its end.")] = False,
    json: JsonFlag = False,
) -> None:
    """Replay the failed notifications of a time range (operator); with --wait, follow it."""
    client = api(ctx)
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "status": ["failed"],
        "since": since or (now - timedelta(hours=1)).isoformat(),
        "until": until or (now + timedelta(seconds=1)).isoformat(),
        "dry_run": dry_run,
    }
    if channel_id is not None:
        body["channel_id"] = channel_id
    if to_channel_id is not None:
        body["to_channel_id"] = to_channel_id
    replay = client.post("/system/notify/replays", body)
    if wait:
        columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[counts]}"))
        with Progress(*columns, console=errors) as bar:
            task = bar.add_task(f"replay {replay['id']}", total=None, counts="", visible=not json)
            while replay["status"] not in FINISHED_REPLAY:
                time.sleep(POLL_SECONDS)
                replay = client.get(f"/system/notify/replays/{replay['id']}")
                counts = f"{replay['matched']} matched, {replay['replayed']} replayed, {replay['skipped']} skipped"
                bar.update(task, description=f"replay {replay['id']} {replay['status']}", counts=counts)
            bar.update(task, total=1, completed=1)
    show(replay, json, title=f"Replay {replay['id']}")


@notify.command("replays")
def notify_replays(ctx: typer.Context, limit: int = 20, cursor: str | None = None, json: JsonFlag = False) -> None:
    """Replays, newest first."""
    show(api(ctx).get("/system/notify/replays", limit=limit, cursor=cursor), json, REPLAY_COLUMNS)
