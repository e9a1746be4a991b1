"""One page of a query, its position kept in a signed, opaque cursor (see :mod:`.cursors`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from chalicelib.domain.errors import InvalidField
from chalicelib.store import cursors

T = TypeVar("T")


def encode_cursor(position: dict[str, Any] | None, scope: str) -> str | None:
    return cursors.seal(position, scope)


def decode_cursor(cursor: str | None, scope: str) -> dict[str, Any] | None:
    value = cursors.unseal(cursor, scope)
    if value is not None and not isinstance(value, dict):
        raise InvalidField("cursor", "Invalid cursor.", "value_error.cursor")
    return value


def query_page(
    run_query: Callable[..., Any],
    limit: int,
    cursor: str | None,
    convert: Callable[[Any], T],
    scope: str,
) -> tuple[list[T], str | None]:
    """Run ``run_query(limit=..., last_evaluated_key=...)`` for one page of results.

    ``run_query`` is a PynamoDB ``Model.query`` / ``Index.query`` with its key
    condition already bound. The cursor seals the key where the page stopped, bound to ``scope``.
    """
    results = run_query(limit=limit, last_evaluated_key=decode_cursor(cursor, scope))
    items = [convert(item) for item in take(results, limit)]
    next_key = results.last_evaluated_key if len(items) == limit else None
    return items, encode_cursor(next_key, scope)


def take(results: Iterable[T], limit: int) -> list[T]:
    taken: list[T] = []
    for item in results:
        taken.append(item)
        if len(taken) >= limit:
            break
    return taken
