"""The subscription filter language: conditions on an event envelope's fields.

A filter is a JSON object. Its keys are dotted paths into the envelope
(``data.row_count``, ``type``) or ``$and`` / ``$or`` with a list of filters; a path's
condition is an object of operators (``$eq $ne $in $nin $gt $gte $lt $lte $exists
$prefix``) or a bare value, which means ``$eq``. All keys of one object must hold.

:func:`check` says what is wrong (as ``(location, message)`` pairs); :func:`matches`
evaluates a checked filter. Comparisons never mix types: ``1`` is not ``true`` and a
number is never greater than a string.
"""

from __future__ import annotations

import json
from typing import Any

OPERATORS = frozenset({"$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$exists", "$prefix"})
COMBINATORS = frozenset({"$and", "$or"})
MAX_DEPTH = 6
MAX_CONDITIONS = 50
MAX_BYTES = 4096
MAX_LIST = 100
_MISSING = object()

Loc = list[str | int]


def check(spec: Any, loc: Loc | None = None) -> list[tuple[Loc, str]]:
    """Every problem of a filter, each with its location under ``loc``; empty when valid."""
    base: Loc = list(loc or [])
    try:
        size = len(json.dumps(spec, separators=(",", ":")))
    except (TypeError, ValueError):
        return [(base, "A filter must be JSON.")]
    if size > MAX_BYTES:
        return [(base, f"A filter may be at most {MAX_BYTES} bytes as JSON.")]
    problems: list[tuple[Loc, str]] = []
    count = _check_object(spec, base, 1, problems)
    if count > MAX_CONDITIONS:
        problems.append((base, f"A filter may hold at most {MAX_CONDITIONS} conditions."))
    return problems


def _check_object(spec: Any, loc: Loc, depth: int, problems: list[tuple[Loc, str]]) -> int:
    if not isinstance(spec, dict):
        problems.append((loc, "A filter must be an object."))
        return 0
    if depth > MAX_DEPTH:
        problems.append((loc, f"A filter may nest at most {MAX_DEPTH} levels."))
        return 0
    count = 0
    for key, value in spec.items():
        where = [*loc, key]
        if key in COMBINATORS:
            if not isinstance(value, list) or not value:
                problems.append((where, f"{key} takes a non-empty list of filters."))
                continue
            for index, part in enumerate(value):
                count += _check_object(part, [*where, index], depth + 1, problems)
        elif key.startswith("$"):
            problems.append((where, f"Unknown operator {key!r} here; use a dotted path, $and or $or."))
        elif not _valid_path(key):
            problems.append((where, "A path is dot-separated names, as in 'data.row_count'."))
        else:
            count += _check_condition(value, where, problems)
    return count


def _valid_path(path: str) -> bool:
    return 0 < len(path) <= 200 and all(part and not part.startswith("$") for part in path.split("."))


def _is_operator_object(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(str(key).startswith("$") for key in value)


def _check_condition(value: Any, loc: Loc, problems: list[tuple[Loc, str]]) -> int:
    if not _is_operator_object(value):
        if isinstance(value, dict) and any(str(key).startswith("$") for key in value):
            problems.append((loc, "Do not mix operators and fields in one condition."))
        return 1
    count = 0
    for operator, operand in value.items():
        where = [*loc, operator]
        count += 1
        if operator not in OPERATORS:
            problems.append((where, f"Unknown operator {operator!r}; one of {', '.join(sorted(OPERATORS))}."))
        elif operator in ("$in", "$nin"):
            if not isinstance(operand, list) or len(operand) > MAX_LIST:
                problems.append((where, f"{operator} takes a list of at most {MAX_LIST} values."))
        elif operator in ("$gt", "$gte", "$lt", "$lte"):
            if isinstance(operand, bool) or not isinstance(operand, (int, float, str)):
                problems.append((where, f"{operator} takes a number or a string."))
        elif operator == "$exists":
            if not isinstance(operand, bool):
                problems.append((where, "$exists takes true or false."))
        elif operator == "$prefix" and not isinstance(operand, str):
            problems.append((where, "$prefix takes a string."))
    return count


# --- evaluation -------------------------------------------------------------


def resolve(document: Any, path: str) -> Any:
    """The value at a dotted path (digits index lists), or ``_MISSING``."""
    current = document
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def _equal(left: Any, right: Any) -> bool:
    if left is _MISSING:
        return right is None
    return _kind(left) == _kind(right) and left == right


def _compare(operator: str, actual: Any, operand: Any) -> bool:
    if actual is _MISSING or _kind(actual) != _kind(operand) or _kind(actual) not in ("number", "str"):
        return False
    if operator == "$gt":
        return bool(actual > operand)
    if operator == "$gte":
        return bool(actual >= operand)
    if operator == "$lt":
        return bool(actual < operand)
    return bool(actual <= operand)


def _operator_holds(operator: str, operand: Any, actual: Any) -> bool:
    if operator == "$eq":
        return _equal(actual, operand)
    if operator == "$ne":
        return not _equal(actual, operand)
    if operator == "$in":
        return any(_equal(actual, candidate) for candidate in operand)
    if operator == "$nin":
        return not any(_equal(actual, candidate) for candidate in operand)
    if operator == "$exists":
        return (actual is not _MISSING) is operand
    if operator == "$prefix":
        return isinstance(actual, str) and actual.startswith(operand)
    return _compare(operator, actual, operand)


def matches(spec: dict[str, Any] | None, document: dict[str, Any]) -> bool:
    """Whether a (checked) filter holds for an envelope; no filter matches everything."""
    if not spec:
        return True
    for key, value in spec.items():
        if key == "$and":
            if not all(matches(part, document) for part in value):
                return False
        elif key == "$or":
            if not any(matches(part, document) for part in value):
                return False
        else:
            actual = resolve(document, key)
            conditions = value.items() if _is_operator_object(value) else [("$eq", value)]
            if not all(_operator_holds(operator, operand, actual) for operator, operand in conditions):
                return False
    return True
