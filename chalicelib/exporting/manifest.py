"""The manifest written beside every export file: what it holds and how to check it."""

from __future__ import annotations

import json
from typing import Any

MANIFEST_VERSION = 1


def build_manifest(
    *,
    job_id: int,
    job_type: str,
    export_format: str,
    filter_params: dict[str, Any] | None,
    row_count: int,
    size: int,
    sha256: str,
    created_at: str,
    completed_at: str,
    bucket: str,
    key: str,
    parts: int,
    columns: list[str] | None,
) -> dict[str, Any]:
    return {
        "manifest_version": MANIFEST_VERSION,
        "job_id": job_id,
        "job_type": job_type,
        "format": export_format,
        "compression": "gzip",
        "filter_params": filter_params,
        "row_count": row_count,
        "bytes": size,
        "sha256": sha256,
        "checksum_of": "the stored object as downloaded (gzip bytes)",
        "created_at": created_at,
        "completed_at": completed_at,
        "data_url": f"s3://{bucket}/{key}",
        "gzip_members": parts,
        "columns": columns,
    }


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")
