"""The ``valhalla`` command: global options, the error policy, the command groups.

Exit codes: 0 done, 1 the API refused (its ``detail`` is printed) or was unreachable,
2 a usage error (Click's own).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from valhalla_cli.client import DEFAULT_URL, ApiClient, ApiFailure
from valhalla_cli.output import errors

app = typer.Typer(
    name="valhalla",
    help="Operate Valhalla Ops from a shell: status, maintenance, keys, channels, notifications, exports, retention.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of a table.")]


@app.callback()
def configure(
    ctx: typer.Context,
    url: Annotated[str, typer.Option("--url", envvar="VALHALLA_URL", help="The API's base URL.")] = DEFAULT_URL,
    token: Annotated[
        str | None, typer.Option("--token", envvar="VALHALLA_TOKEN", help="An API key (Bearer token).")
    ] = None,
) -> None:
    ctx.obj = ApiClient(url, token)


def api(ctx: typer.Context) -> ApiClient:
    client = ctx.find_root().obj
    assert isinstance(client, ApiClient)
    return client


def parse_pairs(pairs: list[str] | None, option: str) -> dict[str, Any]:
    """``K=V`` options as a dict; integers stay integers (``channel_id=3``)."""
    result: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint=option)
        result[key] = int(value) if value.isdigit() else value
    return result


def main() -> None:
    from valhalla_cli import commands  # noqa: F401  (registers the command groups)

    try:
        app()  # standalone: usage errors print themselves and exit 2
    except ApiFailure as failure:
        prefix = f"Error {failure.status}" if failure.status else "Error"
        detail = failure.detail
        if isinstance(detail, list):  # 422: [{loc, msg, type}]
            detail = "; ".join(f"{'.'.join(map(str, item.get('loc', [])))}: {item.get('msg')}" for item in detail)
        errors.print(f"[red]{prefix}:[/red] {detail}", markup=True, highlight=False)
        raise SystemExit(1) from None
