"""The one error shape of the API, ``{"status_code": N, "detail": ...}``, made here only.

Services raise :class:`ApiError` subclasses (they know nothing of HTTP frameworks);
:func:`error_response` turns one into a Chalice response, and
:func:`normalise_framework_errors` rewrites the few errors Chalice itself produces
(unsupported media type, method not allowed) into the same shape.
"""

from __future__ import annotations

import json
from typing import Any

from chalice.app import Response


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
