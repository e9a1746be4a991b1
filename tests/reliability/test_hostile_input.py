"""Hostile input on every field of every route with a body: a 4xx in the error shape, nothing written.

The routes and their fields come from the served OpenAPI document (itself generated
from the body models), so a new route or field is covered without editing this file;
only a valid example body per route is written here, and a test fails if one is missing.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from app import app
from chalicelib.http import RouteDoc
from tests.reliability.faults import snapshot
from tests.support import Api

HOSTILE = b'"__HOSTILE__"'

# A valid body per route, with every optional field present, so each field can be spoiled alone.
VALID_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/system/keys"): {"name": "hostile-ok", "role": "viewer", "rate_limit_per_minute": 60},
    ("POST", "/system/maintenance/state"): {"mode": "normal", "reason": "ok", "ends_at": "2030-01-01T00:00:00Z"},
    ("POST", "/system/notify/channels"): {
        "name": "ops",
        "channel_type": "email",
        "target": "ops@example.com",
        "active": True,
        "description": "ops mailbox",
        "rate_limit_per_second": 5,
    },
    ("PATCH", "/system/notify/channels/{channel_id}"): {
        "target": "ops2@example.com",
        "active": True,
        "description": "moved",
        "rate_limit_per_second": 10,
    },
    ("POST", "/system/notify"): {"channel_id": 1, "subject": "Alert", "body": "System updated", "payload": {"a": 1}},
    ("POST", "/system/exports"): {
        "job_type": "audit_log_export",
        "filter_params": {"start_date": "2024-01-01", "end_date": "2024-01-31"},
        "requested_by": "admin@example.com",
        "format": "jsonl",
        "notify_channel_id": 1,
    },
    ("POST", "/system/exports/{job_id}/status"): {"status": "failed", "error_message": "boom"},
    ("POST", "/system/retention"): {
        "category": "audit_logs",
        "days_to_keep": 30,
        "enabled": True,
        "description": "a month",
        "archive": False,
    },
    ("POST", "/system/retention/purge"): {"categories": ["audit_logs"], "dry_run": True},
    ("POST", "/system/notify/replays"): {
        "channel_id": 1,
        "status": ["failed"],
        "since": "2026-11-20T00:00:00Z",
        "until": "2026-11-30T00:00:00Z",
        "max": 100,
        "to_channel_id": 1,
        "dry_run": True,
    },
    ("POST", "/system/events/subscriptions"): {
        "name": "ops-events",
        "channel_ids": [1],
        "event_types": ["export.*"],
        "filter": {"data.row_count": {"$gte": 1}},
        "enabled": True,
    },
    ("PATCH", "/system/events/subscriptions/{subscription_id}"): {
        "channel_ids": [1],
        "event_types": ["maintenance.changed"],
        "filter": {"type": "maintenance.changed"},
        "enabled": False,
    },
    ("POST", "/system/events/subscriptions/{subscription_id}/test"): {"event_type": "export.completed"},
    ("POST", "/system/events/filters/test"): {"filter": {"type": "x"}, "event": {"type": "x"}},
}


def body_routes() -> list[tuple[str, str]]:
    found = []
    for path, methods in app.routes.items():
        for method, entry in methods.items():
            doc: RouteDoc = entry.view_function.__valhalla_route__
            if doc.body is not None:
                found.append((method, path))
    return sorted(found)


def test_every_route_with_a_body_has_a_valid_example() -> None:
    for method, path in body_routes():
        assert (method, path) in VALID_BODIES, f"add a valid example body for {method} {path}"
        doc: RouteDoc = app.routes[path][method].view_function.__valhalla_route__
        assert doc.body is not None
        doc.body.model_validate(VALID_BODIES[(method, path)])


# --------------------------------------------------------------------------- schema helpers


def resolve(schema: Any, components: dict[str, Any], depth: int = 0) -> Any:
    """The schema with every ``#/components/schemas`` reference inlined."""
    if depth > 20:
        return {}
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            return resolve(components[ref.rsplit("/", 1)[-1]], components, depth + 1)
        return {key: resolve(value, components, depth + 1) for key, value in schema.items()}
    if isinstance(schema, list):
        return [resolve(item, components, depth + 1) for item in schema]
    return schema


def types_of(schema: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    if "type" in schema:
        kinds = schema["type"]
        found |= set(kinds) if isinstance(kinds, list) else {kinds}
    if "enum" in schema or "const" in schema:
        found.add("string")
    for option in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", []):
        found |= types_of(option)
    return found or {"any"}


def bounds(schema: dict[str, Any], key: str) -> list[Any]:
    values = [schema[key]] if key in schema else []
    for option in schema.get("anyOf", []):
        values += bounds(option, key)
    return values


def valid(value: Any, schema: dict[str, Any]) -> bool:
    return jsonschema.Draft202012Validator(schema).is_valid(value)


def deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = {"a": value}
    return value


def hostile_values(schema: dict[str, Any]) -> list[tuple[str, Any]]:
    """(label, value) pairs, each invalid for the field; ``bytes`` are spliced into the JSON text."""
    kinds = types_of(schema)
    cases: list[tuple[str, Any]] = []
    wrong = [("a string", "not-a-valid-value-!"), ("an integer", 12345), ("a fraction", 1.5)]
    wrong += [("a list", [1, 2]), ("an object", {"x": 1}), ("null", None)]
    if not kinds & {"integer", "number", "boolean"}:
        wrong.append(("a boolean", True))  # pydantic's lax mode reads true as 1: only for non-numbers
    if "any" not in kinds:
        cases += [(f"wrong type: {label}", value) for label, value in wrong if not valid(value, schema)]
    if "string" in kinds:
        for limit in bounds(schema, "maxLength"):
            cases.append((f"{limit + 1} characters", "x" * (limit + 1)))
        cases += [
            ("a 300 KiB string", "x" * 300_000),
            ("NUL", "ab\x00cd"),
            ("escape", "ab\x1b[31mcd"),
            ("DEL", "ab\x7fcd"),
            ("carriage return", "ab\rcd"),
            ("a lone surrogate", "ab\ud800cd"),
        ]
    if kinds & {"integer", "number"}:
        for low in bounds(schema, "minimum"):
            cases.append((f"below minimum {low}", low - 1))
        for high in bounds(schema, "maximum"):
            cases.append((f"above maximum {high}", high + 1))
        cases += [("-10**30", -(10**30)), ("10**30", 10**30), ("10**400", 10**400), ("1e308", 1e308)]
        cases += [("-1e308", -1e308)]
    cases += [
        ("JSON 200 levels deep", deep(200)),
        ("JSON 10,000 levels deep", b"[" * 10_000 + b"]" * 10_000),
        ("invalid UTF-8", b'"\xff\xfe\xfd"'),
        ("NaN", b"NaN"),
        ("a huge number literal", b"1" + b"0" * 5000),
    ]
    return [(label, value) for label, value in cases if isinstance(value, bytes) or not valid(value, schema)]


def encode(body: dict[str, Any], field: str, value: Any) -> bytes:
    if isinstance(value, bytes):
        return json.dumps({**body, field: "__HOSTILE__"}).encode().replace(HOSTILE, value)
    return json.dumps({**body, field: value}).encode()


# --------------------------------------------------------------------------- the test


@pytest.fixture
def existing(api: Api) -> dict[str, str]:
    """A channel and an external export job for routes that act on one."""
    channel = api.post("/system/notify/channels", {"name": "ops", "channel_type": "email", "target": "o@example.com"})
    assert channel.status == 201, channel.json
    job = api.post("/system/exports", {"job_type": "external_job"})
    assert job.status == 201, job.json
    subscription = api.post(
        "/system/events/subscriptions", {"name": "ops", "channel_ids": [channel.json["id"]], "event_types": ["*"]}
    )
    assert subscription.status == 201, subscription.json
    return {
        "channel_id": str(channel.json["id"]),
        "job_id": str(job.json["id"]),
        "category": "audit_logs",
        "subscription_id": str(subscription.json["id"]),
    }


@pytest.mark.parametrize(("method", "path"), body_routes(), ids=lambda value: str(value))
def test_hostile_input_on_every_field(api: Api, existing: dict[str, str], method: str, path: str) -> None:
    document = api.get("/system/openapi.json", token=None).json
    components = document["components"]["schemas"]
    operation = document["paths"][path][method.lower()]
    body_schema = resolve(operation["requestBody"]["content"]["application/json"]["schema"], components)
    concrete = path
    for name, value in existing.items():
        concrete = concrete.replace("{" + name + "}", value)
    baseline = VALID_BODIES[(method, path)]

    cases: list[tuple[str, bytes]] = []
    for field, field_schema in body_schema["properties"].items():
        for label, value in hostile_values(field_schema):
            cases.append((f"{field}: {label}", encode(baseline, field, value)))
    cases += [
        ("body: a list", b"[]"),
        ("body: a string", b'"x"'),
        ("body: null", b"null"),
        ("body: empty object with an unknown field", json.dumps({**baseline, "unknown_field": 1}).encode()),
        ("body: duplicate keys hiding a bad value", json.dumps(baseline).encode()[:-1] + b', "unknown_field": 1}'),
        ("body: trailing garbage", json.dumps(baseline).encode() + b"garbage"),
    ]
    assert len(cases) > 10

    before = snapshot()
    failures = []
    for label, raw in cases:
        reply = api.request(method, concrete, raw=raw)
        problem = None
        if not 400 <= reply.status < 500:
            problem = f"status {reply.status}: {reply.raw[:200]!r}"
        elif not isinstance(reply.json, dict) or reply.json.get("status_code") != reply.status:
            problem = f"not the error shape: {reply.raw[:200]!r}"
        elif reply.status == 422 and not all({"loc", "msg", "type"} <= set(e) for e in reply.json["detail"]):
            problem = f"422 detail is not a list of loc/msg/type: {reply.json}"
        else:
            after = snapshot()
            if after != before:
                changed = {key: (before[key], after[key]) for key in after if after[key] != before.get(key)}
                problem = f"{reply.status} but something was written: {changed}"
                before = after
        if problem:
            failures.append(f"{method} {path} {label}: {problem}")
            before = snapshot()
    assert not failures, "\n".join(failures)


# --------------------------------------------------------------------------- query and path


QUERY_VALUES = [
    ("-1", "-1"),
    ("10**30", str(10**30)),
    ("a fraction", "1.5"),
    ("a word", "abc"),
    ("10,000 characters", "x" * 10_000),
    ("NUL", "a%00b"),
    ("escape", "a%1Bb"),
    ("invalid UTF-8", "%FF%FE"),
    ("a lone surrogate", "%ED%A0%80"),
    ("an array", "a&{name}=b"),
]
PATH_VALUES = ["0", "-1", "abc", str(10**30), "1.5", "%00", "%FF", "x" * 2000, "1%2F2"]


def parameter_routes() -> list[tuple[str, str]]:
    """Routes taking query or path parameters."""
    found = []
    for path, methods in app.routes.items():
        for method, entry in methods.items():
            doc: RouteDoc = entry.view_function.__valhalla_route__
            if doc.query is not None or "{" in path:
                found.append((method, path))
    return sorted(found)


@pytest.mark.parametrize(("method", "path"), parameter_routes(), ids=lambda value: str(value))
def test_hostile_query_and_path_parameters(api: Api, existing: dict[str, str], method: str, path: str) -> None:
    document = api.get("/system/openapi.json", token=None).json
    operation = document["paths"][path][method.lower()]
    params = operation.get("parameters", [])
    concrete = path
    for name, value in existing.items():
        concrete = concrete.replace("{" + name + "}", value)
    requests: list[tuple[str, str]] = []
    for param in params:
        if param["in"] == "query":
            for label, value in QUERY_VALUES:
                requests.append((f"?{param['name']}= {label}", f"{concrete}?{param['name']}={value.format(**param)}"))
        elif param["in"] == "path":
            for value in PATH_VALUES:
                requests.append((f"{{{param['name']}}} = {value[:20]}", path.replace("{" + param["name"] + "}", value)))
    assert requests
    before = snapshot()
    failures = []
    for label, url in requests:
        reply = api.request(method, url, raw=b"{}" if method in ("POST", "PATCH") else None)
        if reply.status >= 500:
            failures.append(f"{method} {path} {label}: {reply.status} {reply.raw[:200]!r}")
        elif reply.status >= 400 and (
            not isinstance(reply.json, dict) or reply.json.get("status_code") != reply.status
        ):
            failures.append(f"{method} {path} {label}: not the error shape: {reply.raw[:200]!r}")
    assert snapshot() == before
    assert not failures, "\n".join(failures)
