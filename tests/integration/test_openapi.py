"""The API contract: ``GET /system/openapi.json`` describes every route, validly."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate

from app import app
from chalicelib.http import WRITE_METHODS, RouteDoc
from tests.support import Api


@pytest.fixture
def document(api: Api) -> dict[str, Any]:
    reply = api.get("/system/openapi.json", token=None)
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    return reply.json  # type: ignore[no-any-return]


def routes() -> list[tuple[str, str, Any]]:
    return [(path, method, entry) for path, methods in app.routes.items() for method, entry in methods.items()]


def test_the_document_is_valid_openapi_3_1_and_public(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_route_is_in_the_document(document: dict[str, Any]) -> None:
    missing = [
        f"{method} {path}" for path, method, _ in routes() if method.lower() not in document["paths"].get(path, {})
    ]
    assert not missing, f"routes missing from the OpenAPI document: {missing}"
    documented = {(path, method.upper()) for path, ops in document["paths"].items() for method in ops}
    assert documented == {(path, method) for path, method, _ in routes()}


def test_security_matches_the_authorizer_and_names_the_role(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    for path, method, entry in routes():
        operation = document["paths"][path][method.lower()]
        doc: RouteDoc = entry.view_function.__valhalla_route__
        if entry.authorizer is None:
            assert operation["security"] == [], (method, path)
            assert "401" not in operation["responses"]
        else:
            assert operation["security"] == [{"bearerAuth": []}], (method, path)
            assert doc.role is not None and f"`{doc.role.value}`" in operation["description"]
            assert {"401", "403"} <= set(operation["responses"]), (method, path)


def test_each_route_documents_its_models_and_errors(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for path, method, entry in routes():
        operation = document["paths"][path][method.lower()]
        doc: RouteDoc = entry.view_function.__valhalla_route__
        responses = operation["responses"]
        assert str(doc.status) in responses, (method, path)
        assert operation["summary"] == doc.summary and doc.summary, (method, path)
        for status in doc.errors:
            assert str(status) in responses, (method, path, status)
        for status, response in responses.items():
            if int(status) >= 400:
                schema = response["content"]["application/json"]["schema"]
                refs = [schema.get("$ref")] + [option.get("$ref") for option in schema.get("anyOf", [])]
                assert any(ref and ref.endswith("Body") for ref in refs), (method, path, status)
        if doc.body is not None:
            body_schema = operation["requestBody"]["content"]["application/json"]["schema"]
            name = body_schema["$ref"].rsplit("/", 1)[-1]
            assert set(schemas[name]["properties"]) == set(doc.body.model_fields), (method, path)
            assert {"400", "413", "415", "422"} <= set(responses)
        else:
            assert "requestBody" not in operation
        if doc.query is not None:
            names = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
            assert names == set(doc.query.model_fields), (method, path)
        for name in [part[1:-1] for part in path.split("/") if part.startswith("{")]:
            assert any(p["name"] == name and p["in"] == "path" for p in operation["parameters"]), (path, name)
        if method in WRITE_METHODS:
            assert "503" in responses
            assert "Retry-After" in responses["503"]["headers"]


def test_error_shapes(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["ErrorBody"]["required"] == ["status_code", "detail"]
    detail = schemas["ValidationErrorBody"]["properties"]["detail"]
    assert detail["type"] == "array" and detail["items"]["$ref"].endswith("/ValidationIssue")
    assert set(schemas["ValidationIssue"]["required"]) == {"loc", "msg", "type"}
    assert "mode" in schemas["UnavailableErrorBody"]["properties"]


def test_the_document_is_built_once_per_container(api: Api) -> None:
    first = api.get("/system/openapi.json", token=None).json
    second = api.get("/system/openapi.json", token=None).json
    assert first == second
    from chalicelib.api.openapi import document_for

    assert document_for(app) is document_for(app)


def test_a_route_added_to_an_app_appears_in_its_document() -> None:
    from chalice import Chalice
    from pydantic import BaseModel, Field

    from chalicelib.auth import api_key_authorizer
    from chalicelib.domain.common import Role
    from chalicelib.http import endpoint
    from chalicelib.openapi import build_document

    class Thing(BaseModel):
        name: str = Field(max_length=5)

    extra = Chalice(app_name="extra")

    @extra.route("/things/{thing_id}", methods=["PUT"], authorizer=api_key_authorizer)
    @endpoint(extra, role=Role.operator, body=Thing, response=Thing, errors=(404, 409))  # type: ignore[arg-type]
    def put_thing(call: Any, thing_id: str) -> Thing:
        """Replace a thing."""
        return Thing(name="x")

    spec = build_document(extra.routes)
    validate(spec)
    operation = spec["paths"]["/things/{thing_id}"]["put"]
    assert operation["parameters"][0] == {
        "name": "thing_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": 10**18 - 1},
    }
    assert {"200", "404", "409", "422", "503"} <= set(operation["responses"])
    assert spec["components"]["schemas"]["Thing"]["properties"]["name"]["maxLength"] == 5
