"""Item 4: a cell that a spreadsheet would run as a formula is neutralised in every CSV export."""

from __future__ import annotations

import csv
import gzip
import io
from typing import Any

from chalicelib.exporting.encoders import Csv
from tests.export_support import drain, read_object
from tests.notify_support import create_channel, enqueue
from tests.support import Api

FORMULAS = ['=HYPERLINK("https://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "=cmd|' /C calc'!A0"]


def csv_export(api: Api, job_type: str, filters: dict[str, Any]) -> list[dict[str, str]]:
    created = api.post("/system/exports", {"job_type": job_type, "filter_params": filters, "format": "csv"})
    assert created.status == 201, created.json
    drain()
    job = api.get(f"/system/exports/{created.json['id']}").json
    assert job["status"] == "completed", job
    text = gzip.decompress(read_object(job["storage_url"])).decode()
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_item04_notification_export_cells_never_start_a_formula(api: Api) -> None:
    channel = create_channel(api)
    for formula in FORMULAS:
        enqueue(api, channel["id"], subject=formula, body=formula)

    rows = csv_export(api, "notification_export", {"before_date": "2999-01-01"})

    assert len(rows) == len(FORMULAS)
    for row in rows:
        for column in ("subject", "body"):
            assert row[column][0] not in "=+-@\t\r", (column, row[column])
    assert sorted(row["body"] for row in rows) == sorted("'" + formula for formula in FORMULAS)


def test_item04_numbers_stay_numbers(api: Api) -> None:
    channel = create_channel(api)
    enqueue(api, channel["id"], subject="plain", body="plain")

    rows = csv_export(api, "notification_export", {"before_date": "2999-01-01"})

    assert rows[0]["attempts"] == "0" and rows[0]["channel_id"] == str(channel["id"])


def test_item04_tab_and_carriage_return_starts_are_neutralised() -> None:
    """Input is stripped at the API, so a leading tab or CR can only come from stored data."""
    encoded = Csv(["a", "b"]).encode([{"a": "\t=1+1", "b": "\r=1+1"}]).decode()

    row = next(csv.reader(io.StringIO(encoded, newline="")))

    assert row == ["'\t=1+1", "'\r=1+1"]
