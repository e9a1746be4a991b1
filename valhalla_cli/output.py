"""What the CLI prints: the API's JSON for scripts (``--json``), tables for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()
errors = Console(stderr=True, soft_wrap=True)  # an error message stays one greppable line


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str | None = None) -> None:
    grid = Table(title=title)
    for column in columns:
        # Ids are what a person copies into the next command: never cut short, whatever the width.
        identifier = column == "id" or column.endswith("_id")
        width = max((len(cell(_pick(row, column))) for row in rows), default=0) if identifier else None
        grid.add_column(column, no_wrap=identifier, min_width=width)
    for row in rows:
        grid.add_row(*(cell(_pick(row, column)) for column in columns))
    console.print(grid)


def record(data: dict[str, Any], title: str | None = None) -> None:
    """One resource as a two-column table."""
    grid = Table(title=title, show_header=False)
    grid.add_column("field", style="bold")
    grid.add_column("value")
    for key, value in data.items():
        grid.add_row(key, cell(value))
    console.print(grid)


def _pick(row: dict[str, Any], column: str) -> Any:
    value: Any = row
    for part in column.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def show(data: Any, as_json: bool, columns: Sequence[str] | None = None, title: str | None = None) -> None:
    """``--json``: the API's answer as it is; otherwise a table of a page's items or of one record."""
    if as_json:
        emit_json(data)
    elif isinstance(data, dict) and "items" in data and columns:
        table(data["items"], columns, title)
        if data.get("next_cursor"):
            console.print(f"more: --cursor {data['next_cursor']}")
    elif isinstance(data, list) and columns:
        table(data, columns, title)
    elif isinstance(data, dict):
        record(data, title)
    else:
        console.print(cell(data))
