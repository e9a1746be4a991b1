"""Rows to bytes: JSON Lines, or CSV (RFC 4180 quoting; cells that would run as formulas neutralised)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any, Protocol

from chalicelib.domain.exports import ExportFormat


class Encoder(Protocol):
    content_type: str

    def header(self) -> bytes: ...

    def encode(self, rows: Sequence[dict[str, Any]]) -> bytes: ...


class JsonLines:
    content_type = "application/x-ndjson"

    def header(self) -> bytes:
        return b""

    def encode(self, rows: Sequence[dict[str, Any]]) -> bytes:
        return "".join(
            json.dumps(row, ensure_ascii=False, separators=(",", ":"), default=str) + "\n" for row in rows
        ).encode("utf-8")


# A spreadsheet runs a cell starting with one of these as a formula (OWASP: CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """One cell: nested values as compact JSON, booleans as true/false, nothing as empty.

    Text that a spreadsheet would run as a formula gets a leading single quote; numbers
    are left as they are (a number is never a formula).
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=str)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class Csv:
    content_type = "text/csv"

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)

    def _lines(self, rows: Sequence[Sequence[str]]) -> bytes:
        text = io.StringIO()
        writer = csv.writer(text, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        writer.writerows(rows)
        return text.getvalue().encode("utf-8")

    def header(self) -> bytes:
        return self._lines([self.columns])

    def encode(self, rows: Sequence[dict[str, Any]]) -> bytes:
        return self._lines([[csv_cell(row.get(column)) for column in self.columns] for row in rows])


def encoder_for(export_format: ExportFormat, columns: Sequence[str]) -> Encoder:
    return Csv(columns) if export_format is ExportFormat.csv else JsonLines()
