"""The one error shape of the API, ``{"status_code": N, "detail": ...}``, made here only.

Services raise the Chalice-free errors of :mod:`chalicelib.domain.errors`;
:func:`from_domain` maps one to its status, ``loc`` and headers here, at the HTTP
edge. :func:`error_response` turns an :class:`ApiError` into a Chalice response, and
:func:`normalise_framework_errors` rewrites the few errors Chalice itself produces
(unsupported media type, method not allowed) into the same shape.
"""

from __future__ import annotations

import json
from typing import Any

from chalice.app import Response

from chalicelib.domain import errors as domain


class ApiError(Exception):
    status_code = 500
    default_detail: Any = "Internal server error."

    def __init__(
        self,
        detail: Any = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.detail = self.default_detail if detail is None else detail
        self.headers = headers or {}
        self.extra = extra or {}
        super().__init__(str(self.detail))

    def body(self) -> dict[str, Any]:
        return {"status_code": self.status_code, "detail": self.detail, **self.extra}


class BadRequest(ApiError):
    status_code = 400
    default_detail = "Malformed request."


class Unauthorized(ApiError):
    status_code = 401
    default_detail = "Missing or invalid API key."

    def __init__(self, detail: Any = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ApiError):
    status_code = 403
    default_detail = "Your API key's role does not allow this."


class NotFound(ApiError):
    status_code = 404
    default_detail = "Not found."


class Conflict(ApiError):
    status_code = 409
    default_detail = "Conflict with the current state."


class PayloadTooLarge(ApiError):
    status_code = 413
    default_detail = "Request body too large."


class UnsupportedMediaType(ApiError):
    status_code = 415
    default_detail = "Content-Type must be application/json."


class ValidationFailed(ApiError):
    """422 with FastAPI's list of ``{loc, msg, type}``."""

    status_code = 422

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)

    @classmethod
    def single(cls, loc: list[str | int], msg: str, type_: str = "value_error") -> ValidationFailed:
        return cls([{"loc": loc, "msg": msg, "type": type_}])


class TooManyRequests(ApiError):
    status_code = 429
    default_detail = "Too many requests."


class ServiceUnavailable(ApiError):
    status_code = 503
    default_detail = "Service unavailable."


def from_pydantic(exc: Any, prefix: str) -> ValidationFailed:
    """Map a pydantic ``ValidationError`` to our 422, with ``loc`` starting at ``body``/``query``."""
    errors = [
        {
            "loc": [prefix, *[part for part in err["loc"]]],
            "msg": err["msg"],
            "type": err["type"],
        }
        for err in exc.errors(include_url=False, include_input=False, include_context=False)
    ]
    return ValidationFailed(errors)


# Inputs of a use case that do not come from the JSON body: where a client sends them.
INPUT_LOCATIONS: dict[str, list[str | int]] = {"idempotency_key": ["header", "Idempotency-Key"]}


def from_domain(error: domain.DomainError, query_fields: frozenset[str] = frozenset()) -> ApiError:
    """The HTTP answer to a domain error; ``query_fields`` are the route's query parameters."""
    if isinstance(error, domain.InvalidField):
        return ValidationFailed(
            [
                {"loc": _loc(problem.field, query_fields), "msg": problem.msg, "type": problem.type}
                for problem in error.problems
            ]
        )
    if isinstance(error, domain.NotFound):
        return NotFound(error.message)
    if isinstance(error, domain.Conflict):
        return Conflict(error.message)
    if isinstance(error, domain.TooLarge):
        return PayloadTooLarge(error.message)
    if isinstance(error, domain.Busy):
        headers = {} if error.retry_after is None else {"Retry-After": str(error.retry_after)}
        return ServiceUnavailable(error.message, headers=headers)
    return ApiError()


def _loc(field: tuple[str | int, ...], query_fields: frozenset[str]) -> list[str | int]:
    head, rest = field[0], list(field[1:])
    if isinstance(head, str) and head in INPUT_LOCATIONS:
        return [*INPUT_LOCATIONS[head], *rest]
    return ["query" if head in query_fields else "body", *field]


def error_response(error: ApiError) -> Response:
    headers: dict[str, str | list[str]] = {"Content-Type": "application/json", **error.headers}
    return Response(body=json.dumps(error.body(), default=str), status_code=error.status_code, headers=headers)


def normalise_framework_errors(response: Response) -> Response:
    """Rewrite Chalice's own ``{"Code", "Message"}`` errors into the one error shape."""
    if response.status_code < 400 or not isinstance(response.body, (str, bytes, dict)):
        return response
    body = response.body
    if isinstance(body, (str, bytes)):
        try:
            body = json.loads(body)
        except ValueError:
            return response
    if isinstance(body, dict) and "Code" in body and "Message" in body:
        response.body = json.dumps({"status_code": response.status_code, "detail": body["Message"]})
        response.headers = {**(response.headers or {}), "Content-Type": "application/json"}
    return response
