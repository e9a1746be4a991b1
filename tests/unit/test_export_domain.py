"""Export rules without I/O: filter windows, transitions, encoders, gzip members, the part writer."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.domain.exports import (
    AuditExportFilter,
    JobStatus,
    NotificationExportFilter,
    data_key,
    is_legal,
    manifest_key,
    normalised_filters,
)
from chalicelib.exporting.encoders import Csv, JsonLines
from chalicelib.exporting.multipart import GzipPartWriter


def test_a_date_range_covers_whole_days_and_before_date_is_exclusive() -> None:
    window = AuditExportFilter(start_date="2024-01-01", end_date="2024-01-31").window()  # type: ignore[arg-type]
    assert window.start == datetime(2024, 1, 1, tzinfo=UTC)
    assert window.end == datetime(2024, 2, 1, tzinfo=UTC)
    assert window.contains(datetime(2024, 1, 31, 23, 59, 59, 999000, tzinfo=UTC))
    assert not window.contains(datetime(2024, 2, 1, tzinfo=UTC))
    before = NotificationExportFilter(before_date="2024-06-01T12:00:00Z").window()  # type: ignore[arg-type]
    assert before.start is None and before.end == datetime(2024, 6, 1, 12, tzinfo=UTC)
    assert not before.contains(datetime(2024, 6, 1, 12, tzinfo=UTC))


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"start_date": "2024-01-01"},
        {"end_date": "2024-01-01"},
        {"start_date": "2024-01-02", "end_date": "2024-01-01"},
        {"start_date": "2024-01-01T10:00:00Z", "end_date": "2024-01-01T09:59:59Z"},
        {"before_date": "2024-01-01", "start_date": "2023-01-01"},
        {"before_date": "2024-02-30"},
        {"before_date": "2024-01-01T00:00:00"},
        {"before_date": ["2024-01-01"]},
        {"before_date": "2024-01-01", "limit": 5},
    ],
)
def test_bad_time_filters_are_refused(params: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        normalised_filters("audit_log_export", params)


def test_external_job_filters_are_kept_as_given() -> None:
    assert normalised_filters("report_export", {"anything": [1, 2]}) == {"anything": [1, 2]}
    assert normalised_filters("config_snapshot", None) == {}


def test_the_seed_state_machine() -> None:
    assert is_legal(JobStatus.pending, JobStatus.running)
    assert is_legal(JobStatus.pending, JobStatus.completed)
    assert is_legal(JobStatus.running, JobStatus.failed)
    assert not is_legal(JobStatus.running, JobStatus.pending)
    assert not any(is_legal(JobStatus.completed, status) for status in JobStatus)
    assert not any(is_legal(JobStatus.failed, status) for status in JobStatus)


def test_every_object_of_a_job_is_under_its_prefix() -> None:
    from chalicelib.domain.exports import ExportFormat

    assert data_key(7, ExportFormat.csv) == "exports/7/data.csv.gz"
    assert manifest_key(7) == "exports/7/manifest.json"


def test_csv_round_trips_awkward_values() -> None:
    rows = [
        {"a": 'x,"y"\nz', "b": {"k": "v,w"}, "c": None, "d": True},
        {"a": "\r\n", "b": [1, 2], "c": 0, "d": False},
    ]
    encoder = Csv(["a", "b", "c", "d"])
    text = (encoder.header() + encoder.encode(rows)).decode()
    parsed = list(csv.DictReader(io.StringIO(text, newline="")))
    assert parsed[0] == {"a": 'x,"y"\nz', "b": '{"k":"v,w"}', "c": "", "d": "true"}
    assert parsed[1] == {"a": "'\r\n", "b": "[1,2]", "c": "0", "d": "false"}  # a leading CR is neutralised


def test_json_lines_keep_unicode_and_one_object_per_line() -> None:
    data = JsonLines().encode([{"s": "é\nü"}, {"n": 1}])
    lines = data.decode().splitlines()
    assert [json.loads(line) for line in lines] == [{"s": "é\nü"}, {"n": 1}]


class FakeS3:
    """Just enough of S3's multipart API to check what the writer sends."""

    def __init__(self) -> None:
        self.parts: dict[int, bytes] = {}
        self.objects: dict[str, bytes] = {}
        self.calls: list[str] = []

    def create_multipart_upload(self, **kw: Any) -> dict[str, Any]:
        self.calls.append("create")
        assert kw["ServerSideEncryption"] == "AES256"
        return {"UploadId": "u-1"}

    def upload_part(self, **kw: Any) -> dict[str, Any]:
        self.calls.append("part")
        self.parts[kw["PartNumber"]] = kw["Body"].read()
        return {"ETag": f'"etag-{kw["PartNumber"]}"'}

    def complete_multipart_upload(self, **kw: Any) -> None:
        self.calls.append("complete")
        numbers = [part["PartNumber"] for part in kw["MultipartUpload"]["Parts"]]
        self.objects[kw["Key"]] = b"".join(self.parts[number] for number in numbers)

    def put_object(self, **kw: Any) -> None:
        self.calls.append("put")
        self.objects[kw["Key"]] = kw["Body"].read()


def test_parts_are_independent_gzip_members_and_the_hash_covers_the_object() -> None:
    s3 = FakeS3()
    writer = GzipPartWriter(s3, "b", "k", part_bytes=200, mem_level=1)
    expected = b""
    for index in range(40):
        line = json.dumps({"i": index, "pad": hashlib.sha256(str(index).encode()).hexdigest()}).encode() + b"\n"
        writer.write(line)
        expected += line
        if writer.part_ready():
            writer.upload_part()
    size, digest = writer.finish()
    stored = s3.objects["k"]
    assert s3.calls[0] == "create" and s3.calls[-1] == "complete" and s3.calls.count("part") > 2
    assert gzip.decompress(stored) == expected
    assert all(gzip.decompress(part) for part in s3.parts.values())  # each part is a whole member
    assert size == len(stored) and digest == hashlib.sha256(stored).hexdigest()


def test_a_small_file_is_one_put_and_a_resumed_writer_does_not_claim_a_hash() -> None:
    s3 = FakeS3()
    writer = GzipPartWriter(s3, "b", "small", part_bytes=1 << 20)
    writer.write(b"one line\n")
    size, digest = writer.finish()
    assert s3.calls == ["put"] and gzip.decompress(s3.objects["small"]) == b"one line\n"
    assert digest == hashlib.sha256(s3.objects["small"]).hexdigest() and size == len(s3.objects["small"])

    from chalicelib.exporting.multipart import UploadState

    earlier = FakeS3()
    earlier.parts[1] = gzip.compress(b"stored before\n")
    resumed = GzipPartWriter(earlier, "b", "k", 1 << 20, UploadState("u-1", ['"etag-1"'], len(earlier.parts[1])))
    resumed.write(b"after\n")
    size, digest = resumed.finish()
    assert digest is None  # it did not see the first part: the worker reads the object back instead
    assert gzip.decompress(earlier.objects["k"]) == b"stored before\nafter\n"
    assert size == len(earlier.objects["k"])
