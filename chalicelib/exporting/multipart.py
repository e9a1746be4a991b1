"""A gzip file written to S3 part by part, in memory bounded by the part size.

Each part is a complete gzip member: concatenated members are one valid gzip file
(RFC 1952, section 2.2; ``gzip.decompress``, ``gunzip`` and ``zcat`` read them all),
so a part never depends on compressor state that would have to survive between
Lambda invocations. The writer keeps only the current part's compressed bytes (up to
``part_bytes`` plus the last page written) and the ETags of the parts already stored;
that state (:class:`UploadState`) is what the worker checkpoints.

A file that fits in one part is written with a single ``PutObject``; larger ones with
a multipart upload, started when the first part is full. S3 needs every part but the
last to be at least 5 MiB.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from dataclasses import dataclass, field
from typing import Any

MIN_PART_BYTES = 5 * 1024 * 1024
MAX_PARTS = 10_000
READ_CHUNK = 1024 * 1024
SSE = "AES256"


@dataclass
class UploadState:
    """What survives between invocations: the upload and the parts already stored."""

    upload_id: str | None = None
    etags: list[str] = field(default_factory=list)
    bytes_uploaded: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"upload_id": self.upload_id, "etags": list(self.etags), "bytes": self.bytes_uploaded}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> UploadState:
        data = data or {}
        return cls(data.get("upload_id"), list(data.get("etags") or []), int(data.get("bytes") or 0))


class GzipPartWriter:
    def __init__(
        self,
        s3: Any,
        bucket: str,
        key: str,
        part_bytes: int,
        state: UploadState | None = None,
        content_type: str = "application/octet-stream",
        filename: str | None = None,
        level: int = 6,
        mem_level: int = 8,
    ) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.key = key
        self.part_bytes = part_bytes
        self.state = state or UploadState()
        self.content_type = content_type
        self.filename = filename
        self.level = level
        self.mem_level = mem_level
        # The checksum of the whole object can be kept only if this writer saw it from its first byte.
        self._hash: Any = hashlib.sha256() if not self.state.etags else None
        self._new_member()

    def _new_member(self) -> None:
        self._buffer = io.BytesIO()
        self._compressor = zlib.compressobj(self.level, zlib.DEFLATED, 31, self.mem_level)
        self._raw_in_member = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        self._raw_in_member += len(data)
        compressed = self._compressor.compress(data)
        if compressed:
            self._buffer.write(compressed)

    @property
    def buffered_bytes(self) -> int:
        return self._buffer.tell()

    def part_ready(self) -> bool:
        return self._buffer.tell() >= self.part_bytes

    def _object_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self.key,
            "ContentType": "application/gzip",
            "ServerSideEncryption": SSE,
            "Metadata": {"content-type-inside": self.content_type},
        }
        if self.filename:
            args["ContentDisposition"] = f'attachment; filename="{self.filename}"'
        return args

    def _close_member(self) -> io.BytesIO:
        self._buffer.write(self._compressor.flush())
        body = self._buffer
        size = body.tell()
        body.seek(0)
        if self._hash is not None:
            with body.getbuffer() as view:
                self._hash.update(view)
        self._last_size = size
        return body

    def upload_part(self) -> None:
        """Close the current gzip member and store it as the next part."""
        if len(self.state.etags) >= MAX_PARTS - 1:
            raise RuntimeError(f"the export needs more than {MAX_PARTS} parts; raise VALHALLA_EXPORT_PART_BYTES")
        if self.state.upload_id is None:
            created = self.s3.create_multipart_upload(**self._object_args())
            self.state.upload_id = created["UploadId"]
        body = self._close_member()
        reply = self.s3.upload_part(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.state.upload_id,
            PartNumber=len(self.state.etags) + 1,
            Body=body,
        )
        self.state.etags.append(reply["ETag"])
        self.state.bytes_uploaded += self._last_size
        self._new_member()

    def finish(self) -> tuple[int, str | None]:
        """Store what is left and complete the object: (size in bytes, sha256 if this writer saw it all)."""
        if self.state.upload_id is None:
            body = self._close_member()
            self.s3.put_object(Body=body, **self._object_args())
            self.state.bytes_uploaded += self._last_size
        else:
            if self._raw_in_member or not self.state.etags:
                self.upload_part()
            parts = [{"PartNumber": number, "ETag": etag} for number, etag in enumerate(self.state.etags, start=1)]
            self.s3.complete_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self.state.upload_id, MultipartUpload={"Parts": parts}
            )
        self._new_member()
        return self.state.bytes_uploaded, (self._hash.hexdigest() if self._hash is not None else None)

    def discard_buffer(self) -> None:
        """Forget what was written since the last stored part (it will be written again)."""
        self._new_member()


def abort_upload(s3: Any, bucket: str, key: str, upload_id: str | None) -> bool:
    """Abort a multipart upload so its parts stop costing storage; ``False`` if it was already gone."""
    if not upload_id:
        return False
    try:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except Exception as exc:
        if error_code(exc) in ("NoSuchUpload", "404"):
            return False
        raise
    return True


def stream_sha256(s3: Any, bucket: str, key: str) -> str:
    """SHA-256 of a stored object, read back in 1 MiB chunks (memory stays flat)."""
    digest = hashlib.sha256()
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        for chunk in body.iter_chunks(READ_CHUNK):
            digest.update(chunk)
    finally:
        body.close()
    return digest.hexdigest()


def error_code(exc: Exception) -> str:
    """The AWS error code of a botocore ``ClientError`` (empty for anything else)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))
