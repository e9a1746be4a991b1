"""``valhalla channels ...`` and ``valhalla notify ...``."""

from __future__ import annotations

import json as jsonlib
from typing import Annotated, Any

import typer

from valhalla_cli.app import JsonFlag, api, app
from valhalla_cli.output import show

channels = typer.Typer(help="Notification channels: email, sms, webhook.", no_args_is_help=True)
notify = typer.Typer(help="Notifications: send, read, list, retry.", no_args_is_help=True)
app.add_typer(channels, name="channels")
app.add_typer(notify, name="notify")

CHANNEL_COLUMNS = ["id", "name", "channel_type", "target", "active", "rate_limit_per_second", "created_at"]
NOTIFICATION_COLUMNS = ["id", "channel_id", "status", "attempts", "subject", "created_at", "last_error"]


@channels.command("list")
def channels_list(
    ctx: typer.Context,
    channel_type: Annotated[str | None, typer.Option("--type", help="email, sms or webhook")] = None,
    active: Annotated[bool | None, typer.Option("--active/--inactive", help="Only active (inactive) ones.")] = None,
    limit: int = 50,
    cursor: str | None = None,
    json: JsonFlag = False,
) -> None:
    """Channels, by id."""
    params = {"channel_type": channel_type, "active": None if active is None else str(active).lower()}
    show(api(ctx).get("/system/notify/channels", limit=limit, cursor=cursor, **params), json, CHANNEL_COLUMNS)


@channels.command("create")
def channels_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name")],
    channel_type: Annotated[str, typer.Option("--type", help="email, sms or webhook")],
    target: Annotated[str, typer.Option("--target", help="address, E.164 number or https:// URL")],
    description: Annotated[str | None, typer.Option("--description")] = None,
    rate_limit: Annotated[
        int | None, typer.Option("--rate-limit", min=1, help="Deliveries a second at most (default: unlimited).")
    ] = None,
    json: JsonFlag = False,
) -> None:
    """Create a channel (admin); a webhook's signing secret is shown in this answer only."""
    body: dict[str, Any] = {"name": name, "channel_type": channel_type, "target": target}
    if description is not None:
        body["description"] = description
    if rate_limit is not None:
        body["rate_limit_per_second"] = rate_limit
    show(api(ctx).post("/system/notify/channels", body), json)


@channels.command("get")
def channels_get(
    ctx: typer.Context, channel_id: Annotated[int, typer.Argument(metavar="ID")], json: JsonFlag = False
) -> None:
    """One channel."""
    show(api(ctx).get(f"/system/notify/channels/{channel_id}"), json)


@channels.command("health")
def channels_health(
    ctx: typer.Context, channel_id: Annotated[int, typer.Argument(metavar="ID")], json: JsonFlag = False
) -> None:
    """A channel's health: its breaker state, failure rate, rate limit and the last hour's deliveries."""
    client = api(ctx)
    channel = client.get(f"/system/notify/channels/{channel_id}")
    health = client.get(f"/system/notify/channels/{channel_id}/health")
    deliveries = client.get("/system/stats/deliveries", granularity="minute", channel_id=channel_id)
    answer = {"channel": channel, "health": health, "last_hour": deliveries["totals"]}
    if json:
        show(answer, True)
        return
    totals = deliveries["totals"]
    rate = channel.get("rate_limit_per_second")
    show(
        {
            "id": channel["id"],
            "name": channel["name"],
            "active": channel["active"],
            "state": health["state"],
            "failure rate": f"{health['failure_rate'] * 100:.1f} % of {health['attempts_in_window']} attempts",
            "consecutive failures": health["consecutive_failures"],
            "disabled": health.get("disabled_reason") or health.get("disabled_at"),
            "next probe": health.get("next_probe_at"),
            "rate limit": f"{rate} / s" if rate else "unlimited",
            "sent (1 h)": totals["sent"],
            "failed (1 h)": totals["failed"],
            "retries (1 h)": totals["retries"],
            "success rate": totals["success_rate"],
            "latency p95 (ms)": totals["latency_ms"]["p95"],
        },
        False,
    )


@channels.command("enable")
def channels_enable(
    ctx: typer.Context,
    channel_id: Annotated[int, typer.Argument(metavar="ID")],
    disable: Annotated[bool, typer.Option("--disable", help="Disable instead.")] = False,
    json: JsonFlag = False,
) -> None:
    """Enable a channel and reset its health after an auto-disable (admin); --disable switches it off."""
    client = api(ctx)
    if disable:
        show(client.patch(f"/system/notify/channels/{channel_id}", {"active": False}), json)
        return
    health = client.post(f"/system/notify/channels/{channel_id}/enable", {})
    if json:
        show(health, True)
        return
    channel = client.get(f"/system/notify/channels/{channel_id}")
    show({**channel, "health": health["state"]}, False)


@channels.command("update")
def channels_update(
    ctx: typer.Context,
    channel_id: Annotated[int, typer.Argument(metavar="ID")],
    rate_limit: Annotated[int | None, typer.Option("--rate-limit", min=1, help="Deliveries a second at most.")] = None,
    unlimited: Annotated[bool, typer.Option("--unlimited", help="Remove the rate limit.")] = False,
    target: Annotated[str | None, typer.Option("--target")] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    json: JsonFlag = False,
) -> None:
    """Change a channel's rate limit, target or description (admin)."""
    body: dict[str, Any] = {"target": target, "description": description}
    body = {key: value for key, value in body.items() if value is not None}
    if rate_limit is not None or unlimited:
        body["rate_limit_per_second"] = None if unlimited else rate_limit
    show(api(ctx).patch(f"/system/notify/channels/{channel_id}", body), json)


@notify.command("send")
def notify_send(
    ctx: typer.Context,
    channel_id: Annotated[int, typer.Option("--channel-id", "--channel")],
    subject: Annotated[str, typer.Option("--subject")],
    body: Annotated[str, typer.Option("--body")],
    payload: Annotated[str | None, typer.Option("--payload", help="A JSON object.")] = None,
    json: JsonFlag = False,
) -> None:
    """Enqueue a notification (operator): it is pending until the worker delivers it."""
    request = {"channel_id": channel_id, "subject": subject, "body": body}
    if payload is not None:
        try:
            request["payload"] = jsonlib.loads(payload)
        except ValueError as exc:
            raise typer.BadParameter(f"not JSON: {exc}", param_hint="--payload") from None
    show(api(ctx).post("/system/notify/", request), json)


@notify.command("get")
def notify_get(
    ctx: typer.Context, notification_id: Annotated[int, typer.Argument(metavar="ID")], json: JsonFlag = False
) -> None:
    """One notification, with its attempt history."""
    show(api(ctx).get(f"/system/notify/{notification_id}"), json)


@notify.command("list")
def notify_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="pending, sent or failed")] = None,
    channel_id: Annotated[int | None, typer.Option("--channel-id")] = None,
    limit: int = 50,
    cursor: str | None = None,
    json: JsonFlag = False,
) -> None:
    """Notifications, newest first."""
    page = api(ctx).get("/system/notify/", status=status, channel_id=channel_id, limit=limit, cursor=cursor)
    show(page, json, NOTIFICATION_COLUMNS)


@notify.command("retry")
def notify_retry(
    ctx: typer.Context, notification_id: Annotated[int, typer.Argument(metavar="ID")], json: JsonFlag = False
) -> None:
    """Send a failed notification again (operator)."""
    show(api(ctx).post(f"/system/notify/{notification_id}/retry"), json)
