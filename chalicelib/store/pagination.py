"""Opaque cursors over DynamoDB's ``LastEvaluatedKey``, and one page of a query."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from chalicelib.errors import ValidationFailed

T = TypeVar("T")


def encode_cursor(position: dict[str, Any] | None) -> str | None:
    if not position:
        return None
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValidationFailed.single(["query", "cursor"], "Invalid cursor.", "value_error.cursor") from None
    if not isinstance(value, dict):
        raise ValidationFailed.single(["query", "cursor"], "Invalid cursor.", "value_error.cursor")
    return value


def query_page(
    run_query: Callable[..., Any],
    limit: int,
    cursor: str | None,
    convert: Callable[[Any], T],
) -> tuple[list[T], str | None]:
    """Run ``run_query(limit=..., last_evaluated_key=...)`` for one page of results.

    ``run_query`` is a PynamoDB ``Model.query`` / ``Index.query`` with its key
    condition already bound. The cursor is the key where the page stopped.
    """
    results = run_query(limit=limit, last_evaluated_key=decode_cursor(cursor))
    items = [convert(item) for item in take(results, limit)]
    next_key = results.last_evaluated_key if len(items) == limit else None
    return items, encode_cursor(next_key)


def take(results: Iterable[T], limit: int) -> list[T]:
    taken: list[T] = []
    for item in results:
        taken.append(item)
        if len(taken) >= limit:
            break
    return taken
