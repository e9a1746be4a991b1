"""Limits on the JSON a client may send, and a response encoder one bad value cannot break.

Both are plain functions of values: the HTTP edge refuses what :func:`json_problems`
finds before anything is written, and every response and idempotency record is made
with :func:`safe_dump`, so an item stored before a limit existed still lists.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticSerializationError

UNREADABLE_FIELDS = "unreadable_fields"


def json_problems(body: Any, max_depth: int) -> list[dict[str, Any]]:
    """422 entries for a parsed JSON body: a field nested deeper than ``max_depth``, a non-finite number.

    A field's depth counts its own object or array as level 1 (``{"a": 1}`` is 1 deep).
    Iterative, so a body deep enough to exhaust the stack is still measured.
    """
    if not isinstance(body, dict):
        return []
    problems: list[dict[str, Any]] = []
    for field, value in body.items():
        too_deep = False
        stack: list[tuple[Any, list[str | int], int]] = [(value, [field], 0)]
        while stack:
            current, loc, depth = stack.pop()
            if isinstance(current, float) and not math.isfinite(current):
                problems.append({"loc": ["body", *loc], "msg": "Must be a finite number.", "type": "finite_number"})
            elif isinstance(current, (dict, list)):
                if depth + 1 > max_depth:
                    too_deep = True
                    continue
                children = current.items() if isinstance(current, dict) else enumerate(current)
                stack.extend((child, [*loc, key], depth + 1) for key, child in children)
        if too_deep:
            problems.append(
                {
                    "loc": ["body", field],
                    "msg": f"Nested deeper than {max_depth} levels of objects and arrays.",
                    "type": "too_deep",
                }
            )
    return problems


def safe_dump(model: BaseModel) -> dict[str, Any]:
    """``model`` as JSON-ready data; a field that cannot be encoded becomes ``null`` and is named.

    A list answers with every item: one whose stored value cannot be encoded (nested too
    deeply for the encoder) shows that field as ``null`` and lists it in ``unreadable_fields``.
    """
    try:
        return model.model_dump(mode="json")
    except (PydanticSerializationError, ValueError, RecursionError):
        pass
    dumped: dict[str, Any] = {}
    unreadable: list[str] = []
    for name in type(model).model_fields:
        try:
            dumped.update(model.model_dump(mode="json", include={name}))
        except (PydanticSerializationError, ValueError, RecursionError):
            dumped[name] = None
            unreadable.append(name)
    dumped[UNREADABLE_FIELDS] = unreadable
    return dumped
