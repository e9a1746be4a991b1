"""The OpenAPI 3.1 document, generated from the routing table and the pydantic models.

Every view carries a :class:`chalicelib.http.RouteDoc` (role, status, body, query and
response models, documented errors); Chalice's routing table knows the paths, methods
and authorizers. Nothing here is written by hand per route, so a new route appears in
the document the moment it is registered.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, TypeAdapter

from chalicelib import VERSION
from chalicelib.http import WRITE_METHODS, RouteDoc

REF_TEMPLATE = "#/components/schemas/{model}"
SECURITY_SCHEME = "bearerAuth"
PATH_PARAM = re.compile(r"{([^}]+)}")

ERROR = "ErrorBody"
VALIDATION_ERROR = "ValidationErrorBody"
SHIELD_ERROR = "UnavailableErrorBody"
INTERNAL_ERROR = "InternalErrorBody"

ERROR_SCHEMAS: dict[str, Any] = {
    ERROR: {
        "type": "object",
        "title": "ErrorBody",
        "description": "The one error shape of the API.",
        "properties": {
            "status_code": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"description": "What went wrong: a sentence, or structured detail."},
        },
        "required": ["status_code", "detail"],
    },
    "ValidationIssue": {
        "type": "object",
        "title": "ValidationIssue",
        "properties": {
            "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
            "msg": {"type": "string"},
            "type": {"type": "string"},
        },
        "required": ["loc", "msg", "type"],
    },
    VALIDATION_ERROR: {
        "type": "object",
        "title": "ValidationErrorBody",
        "description": "422: every field that failed, with where (`loc`), why (`msg`) and a code (`type`).",
        "properties": {
            "status_code": {"type": "integer", "const": 422},
            "detail": {"type": "array", "items": {"$ref": "#/components/schemas/ValidationIssue"}},
        },
        "required": ["status_code", "detail"],
    },
    SHIELD_ERROR: {
        "type": "object",
        "title": "UnavailableErrorBody",
        "description": "503: the shield refused a write (`mode` says why), or storage is throttled.",
        "properties": {
            "status_code": {"type": "integer", "const": 503},
            "detail": {"type": "string"},
            "mode": {"type": "string", "enum": ["read_only", "maintenance", "unknown"]},
        },
        "required": ["status_code", "detail"],
    },
    INTERNAL_ERROR: {
        "type": "object",
        "title": "InternalErrorBody",
        "description": "500: an unexpected error; quote `request_id` when reporting it.",
        "properties": {
            "status_code": {"type": "integer", "const": 500},
            "detail": {"type": "string"},
            "request_id": {"type": "string"},
        },
        "required": ["status_code", "detail"],
    },
}

ERROR_DESCRIPTIONS = {
    400: "Malformed request (invalid JSON or UTF-8).",
    401: "Missing or invalid API key.",
    403: "The API key's role does not allow this.",
    404: "Not found.",
    409: "Conflict with the current state.",
    413: "Request body too large.",
    415: "Content-Type must be application/json.",
    422: "Validation failed.",
    429: "Too many requests: this API key's requests a minute are used up, or the API is throttled; see Retry-After.",
    500: "Internal server error.",
    503: "Writes are refused (read-only or maintenance mode) or storage is throttled; see Retry-After.",
}


# Every response to a request with a valid API key (docs/channel-health.md).
RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": {"description": "Requests a minute this API key may make.", "schema": {"type": "string"}},
    "X-RateLimit-Remaining": {"description": "Requests left in the current minute.", "schema": {"type": "string"}},
    "X-RateLimit-Reset": {
        "description": "When the current minute ends, in seconds since 1970 (UTC).",
        "schema": {"type": "string"},
    },
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF_TEMPLATE.format(model=name)}


def _safe_name(raw: str) -> str:
    return re.sub(r"[^A-Za-z0-9.\-_]", "_", raw).strip("_") or "x"


def _error_schema(status: int) -> dict[str, Any]:
    if status == 422:
        return _ref(VALIDATION_ERROR)
    if status == 503:
        return _ref(SHIELD_ERROR)
    if status == 500:
        return _ref(INTERNAL_ERROR)
    return _ref(ERROR)


class _Schemas:
    """Every pydantic schema of the document, generated in one pass so names never clash.

    Models become ``components/schemas`` entries (pydantic's ``$defs``, hoisted);
    other annotations (``dict[str, Any]``, ``list[X]``) are inlined.
    """

    def __init__(self, wanted: list[tuple[Any, str]]) -> None:
        self.components: dict[str, Any] = dict(ERROR_SCHEMAS)
        self._by_key: dict[tuple[int, str], Any] = {}
        inputs: list[tuple[tuple[int, str], Any, TypeAdapter[Any]]] = []
        seen: set[tuple[int, str]] = set()
        for annotation, mode in wanted:
            key = (id(annotation), mode)
            if annotation is None or key in seen:
                continue
            seen.add(key)
            inputs.append((key, mode, TypeAdapter(annotation)))
        if not inputs:
            return
        mapping, definitions = TypeAdapter.json_schemas(inputs, ref_template=REF_TEMPLATE)
        for name, definition in definitions.get("$defs", {}).items():
            if name in ERROR_SCHEMAS:
                raise ValueError(f"a model named {name} clashes with the error schemas")
            self.components[name] = definition
        for (key, _mode), schema in mapping.items():
            self._by_key[key] = schema

    def schema(self, annotation: Any, mode: str) -> dict[str, Any]:
        if annotation is None:
            return {}
        return dict(self._by_key[(id(annotation), mode)])

    def resolved(self, annotation: Any, mode: str) -> dict[str, Any]:
        """The schema itself, following a top-level ``$ref`` into the components."""
        schema = self.schema(annotation, mode)
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            return dict(self.components[ref.rsplit("/", 1)[-1]])
        return schema


def _path_parameters(path: str) -> list[dict[str, Any]]:
    parameters = []
    for name in PATH_PARAM.findall(path):
        # Ids in paths are positive integers (chalicelib.http.path_id); other segments are names.
        schema: dict[str, Any] = (
            {"type": "integer", "minimum": 1, "maximum": 10**18 - 1}
            if name.endswith("_id")
            else {"type": "string", "minLength": 1, "maxLength": 128}
        )
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return parameters


def _query_parameters(model: type[BaseModel], schemas: _Schemas) -> list[dict[str, Any]]:
    schema = schemas.resolved(model, "validation")
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        prop = _without_null(dict(prop))
        description = prop.pop("description", None)
        prop.pop("title", None)
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query string cannot carry JSON ``null``: an optional parameter is simply left out."""
    options = schema.get("anyOf")
    if isinstance(options, list):
        kept = [option for option in options if option != {"type": "null"}]
        if len(kept) == 1:
            schema.pop("anyOf")
            schema = {**kept[0], **schema}
        else:
            schema["anyOf"] = kept
    if schema.get("default", 0) is None:
        schema.pop("default")
    return schema


def _response(
    description: str,
    schema: dict[str, Any],
    headers: dict[str, Any] | None = None,
    media_type: str = "application/json",
) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {media_type: {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def _error_statuses(method: str, path: str, doc: RouteDoc, protected: bool) -> list[int]:
    statuses = set(doc.errors) | {500, 503}
    if protected:
        statuses |= {401, 403, 429}
    if doc.body is not None:
        statuses |= {400, 413, 415, 422}
    if doc.query is not None or PATH_PARAM.search(path):
        statuses.add(422)
    if method in WRITE_METHODS:
        statuses.add(503)
    return sorted(status for status in statuses if status != doc.status)


def _operation(path: str, method: str, entry: Any, schemas: _Schemas, operation_ids: set[str]) -> dict[str, Any]:
    view = entry.view_function
    doc: RouteDoc = getattr(view, "__valhalla_route__", None) or RouteDoc()
    protected = entry.authorizer is not None
    operation_id = entry.view_name
    if operation_id in operation_ids:
        operation_id = f"{operation_id}_{method.lower()}_{_safe_name(path)}"
    operation_ids.add(operation_id)

    module = str(getattr(view, "__module__", "") or "")
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": doc.summary or entry.view_name,
        "tags": [module.rsplit(".", 1)[-1] or "system"],
    }
    if protected:
        role = doc.role.value if doc.role else "any"
        operation["security"] = [{SECURITY_SCHEME: []}]
        operation["description"] = f"Needs an API key with the `{role}` role (or higher)."
    else:
        operation["security"] = []
        operation["description"] = "Public: no API key needed."

    parameters = _path_parameters(path)
    if doc.query is not None:
        parameters += _query_parameters(doc.query, schemas)
    if parameters:
        operation["parameters"] = parameters
    if doc.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schemas.schema(doc.body, "validation")}},
        }

    success = schemas.schema(doc.response_model, "serialization")
    if doc.media_type != "application/json":
        success = {"type": "string"}
    limits = RATE_LIMIT_HEADERS if protected else None
    responses: dict[str, Any] = {str(doc.status): _response("Success.", success, limits, media_type=doc.media_type)}
    if method == "POST" and doc.status == 201:
        # Create-or-update routes answer 200 when the resource already existed.
        responses["200"] = _response("Success: the resource already existed and was updated.", success)
    retry_after = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "string"}}}
    for status in _error_statuses(method, path, doc, protected):
        description = ERROR_DESCRIPTIONS.get(status, "Error.")
        headers = retry_after if status in (429, 503) else None
        if protected and status != 401:
            headers = {**(headers or {}), **RATE_LIMIT_HEADERS}
        responses[str(status)] = _response(description, _error_schema(status), headers)
    operation["responses"] = responses
    return operation


def build_document(routes: dict[str, dict[str, Any]], title: str = "Valhalla Ops") -> dict[str, Any]:
    """The OpenAPI 3.1 document for a Chalice routing table (``app.routes``)."""
    wanted: list[tuple[Any, str]] = []
    for methods in routes.values():
        for entry in methods.values():
            doc = getattr(entry.view_function, "__valhalla_route__", None) or RouteDoc()
            wanted += [(doc.body, "validation"), (doc.query, "validation"), (doc.response_model, "serialization")]
    schemas = _Schemas(wanted)
    operation_ids: set[str] = set()
    paths: dict[str, Any] = {}
    for path in sorted(routes):
        for method in sorted(routes[path]):
            paths.setdefault(path, {})[method.lower()] = _operation(
                path, method, routes[path][method], schemas, operation_ids
            )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": VERSION,
            "description": (
                "Notifications, export jobs, retention policies and the read-only shield. "
                'Every error is `{"status_code": N, "detail": ...}`.'
            ),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key: `Authorization: Bearer vk_...`. Roles: viewer < operator < admin.",
                }
            },
        },
    }
