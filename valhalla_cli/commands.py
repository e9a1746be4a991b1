"""The command groups; each command maps to one or two API calls and prints the answer."""

from __future__ import annotations

from typing import Annotated

import typer

from valhalla_cli import exports_cmd, notify_cmd, replay_cmd  # noqa: F401  (more groups)
from valhalla_cli.app import JsonFlag, api, app
from valhalla_cli.output import console, emit_json, record, show, table

maintenance = typer.Typer(help="The maintenance mode: normal, read_only, maintenance.", no_args_is_help=True)
keys = typer.Typer(help="API keys (admin).", no_args_is_help=True)
app.add_typer(maintenance, name="maintenance")
app.add_typer(keys, name="keys")

KEY_COLUMNS = ["id", "name", "role", "prefix", "created_at", "revoked_at"]


@app.command()
def status(ctx: typer.Context, json: JsonFlag = False) -> None:
    """Health, mode, backlog and the last hour's deliveries at a glance."""
    client = api(ctx)
    health = client.get("/system/health")
    backlog = client.get("/system/stats/backlog")
    deliveries = client.get("/system/stats/deliveries", granularity="minute")
    if json:
        emit_json({"health": health, "backlog": backlog, "deliveries": deliveries["totals"]})
        return
    totals = deliveries["totals"]
    rate = "-" if totals["success_rate"] is None else f"{totals['success_rate'] * 100:.1f} %"
    record(
        {
            "status": health["status"],
            "mode": health["mode"],
            "version": health["version"],
            "pending notifications": backlog["pending"],
            "oldest pending (s)": backlog["oldest_pending_age_seconds"],
            "running exports": len(backlog["running_exports"]),
            "running purges": len(backlog["running_purges"]),
            "last hour sent / failed": f"{totals['sent']} / {totals['failed']}",
            "success rate": rate,
            "latency p50 / p95 (ms)": f"{totals['latency_ms']['p50']} / {totals['latency_ms']['p95']}",
        },
        title="Valhalla Ops",
    )


@maintenance.command("get")
def maintenance_get(ctx: typer.Context, json: JsonFlag = False) -> None:
    """The current mode."""
    show(api(ctx).get("/system/maintenance/state"), json)


@maintenance.command("set")
def maintenance_set(
    ctx: typer.Context,
    mode: Annotated[str, typer.Argument(help="normal, read_only or maintenance")],
    reason: Annotated[str | None, typer.Option(help="Shown to callers refused a write.")] = None,
    until: Annotated[str | None, typer.Option(help="ISO 8601 time to return to normal by itself.")] = None,
    json: JsonFlag = False,
) -> None:
    """Switch the mode (admin)."""
    body = {"mode": mode, "reason": reason, "ends_at": until}
    show(api(ctx).post("/system/maintenance/state", {k: v for k, v in body.items() if v is not None}), json)


@keys.command("list")
def keys_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="Items per page (1-100).")] = 50,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of the previous page.")] = None,
    json: JsonFlag = False,
) -> None:
    """API keys, newest first."""
    show(api(ctx).get("/system/keys", limit=limit, cursor=cursor), json, KEY_COLUMNS)


@keys.command("create")
def keys_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="What the key is for.")],
    role: Annotated[str, typer.Option("--role", help="viewer, operator or admin")],
    json: JsonFlag = False,
) -> None:
    """Create a key; its token is shown in this answer only."""
    created = api(ctx).post("/system/keys", {"name": name, "role": role})
    show(created, json)
    if not json:
        console.print("[bold]Keep the token now: it is not shown again.[/bold]")


@keys.command("revoke")
def keys_revoke(
    ctx: typer.Context, key_id: Annotated[int, typer.Argument(metavar="ID")], json: JsonFlag = False
) -> None:
    """Revoke a key (it stops working at once)."""
    answer = api(ctx).delete(f"/system/keys/{key_id}")
    if json:
        emit_json(answer)
    else:
        console.print(f"Key {key_id} revoked.")


@app.command()
def stats(
    ctx: typer.Context,
    granularity: Annotated[str, typer.Option(help="minute, hour or day")] = "hour",
    since: Annotated[str | None, typer.Option(help="ISO 8601 start")] = None,
    until: Annotated[str | None, typer.Option(help="ISO 8601 end")] = None,
    channel_id: Annotated[int | None, typer.Option("--channel-id")] = None,
    json: JsonFlag = False,
) -> None:
    """Deliveries per bucket (non-empty ones), their totals, and export figures."""
    client = api(ctx)
    deliveries = client.get(
        "/system/stats/deliveries", granularity=granularity, since=since, until=until, channel_id=channel_id
    )
    exports = client.get("/system/stats/exports")
    if json:
        emit_json({"deliveries": deliveries, "exports": exports})
        return
    busy = [bucket for bucket in deliveries["buckets"] if bucket["attempts"]]
    columns = ["start", "sent", "failed", "attempts", "retries", "latency_ms.p50", "latency_ms.p95", "latency_ms.p99"]
    table(busy, columns, title=f"Deliveries per {granularity}")
    record(deliveries["totals"], title="Totals")
    table(
        exports["job_types"], ["job_type", "counts", "rows", "bytes", "duration_seconds", "rows_per_second"], "Exports"
    )
