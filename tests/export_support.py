"""Helpers for the export tests: run the worker on what is queued, read results back."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from typing import Any

from chalicelib import aws
from chalicelib.deps import get_deps
from chalicelib.resources import queue_url
from chalicelib.workers.exports import ExportWorker, run_export_message

PLENTY = 900_000.0


def queued_messages() -> list[dict[str, Any]]:
    sqs = aws.client("sqs")
    url = queue_url("exports")
    bodies: list[dict[str, Any]] = []
    while True:
        reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = reply.get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def drain(
    budget: Callable[[], float] = lambda: PLENTY, worker: ExportWorker | None = None, rounds: int = 500
) -> list[str]:
    """Run the export worker on every queued message, and on those it queues, until none is left."""
    outcomes: list[str] = []
    for _ in range(rounds):
        bodies = queued_messages()
        if not bodies:
            return outcomes
        for body in bodies:
            outcomes.append(run_export_message(body, budget, worker))
    raise AssertionError("the export queue never emptied")


def read_object(url: str) -> bytes:
    assert url.startswith("s3://")
    bucket, _, key = url[5:].partition("/")
    return bytes(aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def read_rows(url: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in gzip.decompress(read_object(url)).decode().splitlines() if line]


def read_manifest(job: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(read_object(job["manifest_url"])))


def keys_under(prefix: str) -> list[str]:
    bucket = get_deps().settings.exports_bucket
    listing = aws.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for item in listing.get("Contents", [])]


def open_uploads() -> list[dict[str, Any]]:
    bucket = get_deps().settings.exports_bucket
    return list(aws.client("s3").list_multipart_uploads(Bucket=bucket).get("Uploads", []))
