"""The subscription filter language and event patterns, without I/O."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain import event_filters
from chalicelib.domain.events import EVENT_TYPES, human_message, new_event_id, pattern_matches, pattern_problem

EVENT: dict[str, Any] = {
    "id": "evt_1",
    "type": "export.completed",
    "time": "2026-01-01T00:00:00.000Z",
    "data": {"job_id": 7, "job_type": "audit_log_export", "row_count": 3, "ok": True, "tags": ["a", "b"]},
}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, True),
        ({"type": "export.completed"}, True),
        ({"type": "export.failed"}, False),
        ({"data.row_count": {"$gte": 1}}, True),
        ({"data.row_count": {"$gte": 4}}, False),
        ({"data.row_count": {"$gt": 2, "$lt": 4}}, True),
        ({"data.row_count": {"$lte": 2}}, False),
        ({"data.row_count": {"$eq": 3}}, True),
        ({"data.row_count": {"$ne": 3}}, False),
        ({"data.row_count": {"$in": [1, 2, 3]}}, True),
        ({"data.row_count": {"$nin": [1, 2, 3]}}, False),
        ({"data.job_type": {"$prefix": "audit"}}, True),
        ({"data.job_type": {"$prefix": "notif"}}, False),
        ({"data.error": {"$exists": False}}, True),
        ({"data.job_id": {"$exists": True}}, True),
        ({"data.tags.1": "b"}, True),
        ({"$or": [{"type": "export.failed"}, {"data.row_count": 3}]}, True),
        ({"$and": [{"type": "export.completed"}, {"data.row_count": 0}]}, False),
        ({"$or": [{"$and": [{"data.job_id": 7}, {"data.ok": True}]}, {"type": "x"}]}, True),
        # Types never mix: true is not 1, a number is not greater than a string.
        ({"data.ok": 1}, False),
        ({"data.row_count": True}, False),
        ({"data.row_count": {"$gt": "1"}}, False),
        # A missing field: $ne and $nin hold, comparisons do not, $eq null matches.
        ({"data.missing": {"$ne": 1}}, True),
        ({"data.missing": {"$nin": [1]}}, True),
        ({"data.missing": {"$gt": 0}}, False),
        ({"data.missing": None}, True),
        ({"data": {"job_id": 7}}, False),  # an object value is an exact match, not a sub-filter
    ],
)
def test_a_filter_matches_the_envelope_as_documented(spec: dict[str, Any], expected: bool) -> None:
    assert event_filters.check(spec) == []
    assert event_filters.matches(spec, EVENT) is expected


@pytest.mark.parametrize(
    ("spec", "where"),
    [
        ([], []),
        ({"$and": {}}, ["$and"]),
        ({"$or": []}, ["$or"]),
        ({"$not": {"type": "x"}}, ["$not"]),
        ({"data.row_count": {"$regex": "x"}}, ["data.row_count", "$regex"]),
        ({"data.row_count": {"$gte": [1]}}, ["data.row_count", "$gte"]),
        ({"data.row_count": {"$gte": True}}, ["data.row_count", "$gte"]),
        ({"data.x": {"$in": 3}}, ["data.x", "$in"]),
        ({"data.x": {"$exists": "yes"}}, ["data.x", "$exists"]),
        ({"data.x": {"$prefix": 3}}, ["data.x", "$prefix"]),
        ({"data..x": 1}, ["data..x"]),
        ({"$and": [{"type": "x"}, {"data.n": {"$lt": None}}]}, ["$and", 1, "data.n", "$lt"]),
        ({"data.x": {"$eq": 1, "y": 2}}, ["data.x"]),
    ],
)
def test_an_invalid_filter_is_refused_with_its_location(spec: Any, where: list[Any]) -> None:
    problems = event_filters.check(spec, ["body", "filter"])
    assert problems, spec
    assert problems[0][0] == ["body", "filter", *where]


def test_a_filter_has_bounded_size_and_depth() -> None:
    deep: dict[str, Any] = {"type": "x"}
    for _ in range(10):
        deep = {"$and": [deep]}
    assert event_filters.check(deep)
    wide = {f"data.f{i}": i for i in range(60)}
    assert event_filters.check(wide)
    assert event_filters.check({"data.x": "y" * 5000})


def test_patterns_are_exact_types_or_a_trailing_wildcard_segment() -> None:
    assert pattern_problem("export.*") is None
    assert pattern_problem("*") is None
    assert pattern_problem("retention.*") is None
    assert pattern_problem("maintenance.changed") is None
    assert pattern_problem("export.done") is not None
    assert pattern_problem("nothing.*") is not None
    assert pattern_problem("exp*") is not None
    assert pattern_problem("*.completed") is not None
    assert pattern_matches("export.*", "export.failed")
    assert pattern_matches("retention.*", "retention.purge.completed")
    assert not pattern_matches("export.*", "exports.x")
    assert not pattern_matches("key.created", "key.revoked")


def test_every_type_has_a_schema_and_an_example_that_fits_it() -> None:
    for name, kind in EVENT_TYPES.items():
        schema = kind.schema_document()
        assert schema["type"] == "object" and schema["properties"], name
        kind.data.model_validate(kind.example)
        subject, body = human_message({"id": "evt_x", "type": name, "time": "t", "data": kind.example})
        assert name in subject and "evt_x" in body and len(body) < 1000


def test_event_ids_from_a_key_are_stable_and_others_are_unique() -> None:
    assert new_event_id("export:7:completed") == new_event_id("export:7:completed")
    assert new_event_id("export:7:completed") != new_event_id("export:7:failed")
    assert new_event_id() != new_event_id()
    assert new_event_id(now=1.0) < new_event_id(now=2.0)
