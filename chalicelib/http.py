"""What every route shares, in one decorator: auth, input parsing, output, error mapping.

A view is written as ``def view(call: Call, **url_params)`` and returns a body
(a pydantic model, a dict or a list) or a :class:`Reply` when the status or headers
differ from the route's default. Everything that can go wrong becomes the one
error shape of :mod:`chalicelib.errors`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any, NamedTuple, TypeVar

from chalice.app import Blueprint, Request, Response
from pydantic import BaseModel, ValidationError
from pynamodb.exceptions import PynamoDBException

from chalicelib.deps import get_deps
from chalicelib.domain.common import ModelRef, PageOf, Principal, RequestInfo, Role, resolve_model
from chalicelib.domain.errors import DomainError
from chalicelib.domain.jsonsafe import json_problems, safe_dump
from chalicelib.errors import (
    ApiError,
    BadRequest,
    Forbidden,
    PayloadTooLarge,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
    error_response,
    from_domain,
    from_pydantic,
)
from chalicelib.logs import get_logger

M = TypeVar("M", bound=BaseModel)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
THROTTLE_CODES = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"})


# Records here are NamedTuples or plain classes, not dataclasses: every Lambda imports this
# module on a cold start, and a dataclass compiles its generated methods there (~1 ms each).
class Reply(NamedTuple):
    body: Any
    status: int = 200
    headers: dict[str, str] | None = None


class RouteDoc(NamedTuple):
    """What a route takes and gives, for validation and for the OpenAPI document."""

    role: Role | None = None
    status: int = 200
    body_ref: ModelRef | None = None  # a class, or its name "module.Model" imported on first use
    query_ref: ModelRef | None = None
    response_ref: Any = None
    summary: str = ""
    errors: tuple[int, ...] = ()
    media_type: str = "application/json"  # of the success response (the console's page and assets differ)

    @property
    def body(self) -> type[BaseModel] | None:
        return resolve_model(self.body_ref)  # type: ignore[no-any-return]

    @property
    def query(self) -> type[BaseModel] | None:
        return resolve_model(self.query_ref)  # type: ignore[no-any-return]

    @property
    def response_model(self) -> Any:
        response = resolve_model(self.response_ref)
        return response.model if isinstance(response, PageOf) else response

    @property
    def query_fields(self) -> frozenset[str]:
        return frozenset(self.query.model_fields) if self.query is not None else frozenset()


class Call:
    """One authenticated request, as a view sees it."""

    __slots__ = ("declared", "info", "principal", "request")

    def __init__(self, request: Request, principal: Principal, info: RequestInfo, declared: RouteDoc | None = None):
        self.request = request
        self.principal = principal
        self.info = info
        self.declared = declared if declared is not None else RouteDoc()

    @property
    def method(self) -> str:
        return str(self.request.method).upper()

    def header(self, name: str) -> str | None:
        value = self.request.headers.get(name.lower()) if self.request.headers else None
        return None if value is None else str(value)

    @property
    def raw_body(self) -> bytes:
        raw = self.request.raw_body
        return raw if isinstance(raw, bytes) else (raw or "").encode()

    def body(self, model: type[M] | None = None, *, optional: bool = False) -> M:
        """The JSON body validated by ``model`` (default: the route's declared body model)."""
        model = model or self.declared.body  # type: ignore[assignment]
        if model is None:
            raise TypeError("no body model given or declared")
        raw = self.raw_body
        if optional and not raw.strip():
            return _validate(model, {}, "body")
        limit = get_deps().settings.max_body_bytes
        if len(raw) > limit:
            raise PayloadTooLarge(f"Request body is {len(raw)} bytes; the limit is {limit}.")
        content_type = (self.header("content-type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise UnsupportedMediaType()
        data = parse_json(raw)
        problems = json_problems(data, get_deps().settings.max_json_depth)
        if problems:
            raise ValidationFailed(problems)
        return _validate(model, data, "body")

    def audit(self, action: str, resource_type: str, resource_id: Any = None, summary: Any = None) -> None:
        """Record this accepted write in the audit log (secrets in ``summary`` are redacted).

        The write itself has happened when this runs. If the audit table refuses the
        event (throttling), the response still tells the truth (done) and the event
        is kept in the structured log instead, marked ``audit_fallback``.
        """
        try:
            get_deps().audit.record(self.principal, action, resource_type, resource_id, summary, self.info)
        except PynamoDBException as exc:
            from chalicelib.domain.audit import redact

            get_logger().error(
                "audit write failed; the event is kept in this log line",
                extra={
                    "audit_fallback": {
                        "actor": self.principal.name,
                        "actor_key_id": self.principal.key_id,
                        "role": self.principal.role.value,
                        "action": action,
                        "resource_type": resource_type,
                        "resource_id": None if resource_id is None else str(resource_id),
                        "summary": redact(jsonable(summary)),
                        "request_id": self.info.request_id,
                        "source_ip": self.info.source_ip,
                    },
                    "error": str(exc.cause_response_code or exc),
                },
            )

    def query(self, model: type[M] | None = None) -> M:
        model = model or self.declared.query  # type: ignore[assignment]
        if model is None:
            raise TypeError("no query model given or declared")
        params = dict(self.request.query_params or {})
        return _validate(model, params, "query")


def path_id(raw: str, name: str) -> int:
    """A positive integer id from the URL path, or 422."""
    if not raw.isdigit() or len(raw) > 18 or int(raw) < 1:
        raise ValidationFailed.single(["path", name], "Must be a positive integer.", "int_parsing")
    return int(raw)


def parse_json(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("Request body is not valid UTF-8.") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"Malformed JSON: {str(exc)[:200]}") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _validate(model: type[M], data: Any, where: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_pydantic(exc, where) from None


def jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return safe_dump(value)
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return value


def json_response(body: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=json.dumps(jsonable(body)),
        status_code=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def _principal(request: Request) -> Principal:
    context = (request.context or {}).get("authorizer") or {}
    if str(context.get("authenticated")) != "true":
        raise Unauthorized()
    limit = str(context.get("rate_limit_per_minute") or "")
    return Principal(
        key_id=int(context["key_id"]),
        name=str(context["principalId"]),
        role=Role(context["role"]),
        rate_limit_per_minute=int(limit) if limit.isdigit() else None,
    )


def _request_info(request: Request) -> RequestInfo:
    context = request.context or {}
    identity = context.get("identity") or {}
    return RequestInfo(request_id=context.get("requestId") or str(uuid.uuid4()), source_ip=identity.get("sourceIp"))


def _storage_error(exc: PynamoDBException) -> ApiError | None:
    if exc.cause_response_code in THROTTLE_CODES:
        return ServiceUnavailable("Storage is throttled; retry shortly.", headers={"Retry-After": "1"})
    return None


def endpoint(
    bp: Blueprint,
    role: Role | None,
    status: int = 200,
    *,
    body: ModelRef | None = None,
    query: ModelRef | None = None,
    response: Any = None,
    errors: tuple[int, ...] = (),
    media_type: str = "application/json",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Wrap a view: check the caller's role (``None``: public), run it, map its errors.

    ``body``, ``query`` and ``response`` declare the route's models (classes, or names
    "module.Model" of chalicelib.domain imported on first use): ``call.body()`` and
    ``call.query()`` validate with them, and the OpenAPI document is built from them.
    ``errors`` lists the error statuses the route documents beyond the common ones.
    """

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        doc = RouteDoc(
            role=role,
            status=status,
            body_ref=body,
            query_ref=query,
            response_ref=response,
            summary=(view.__doc__ or "").strip().splitlines()[0] if view.__doc__ else view.__name__,
            errors=errors,
            media_type=media_type,
        )

        @wraps(view)
        def handler(**url_params: Any) -> Response:
            request = bp.current_request
            info = _request_info(request)
            logger = get_logger()
            started = time.perf_counter()
            limit_headers: dict[str, str] = {}
            try:
                if role is None:
                    principal = Principal(key_id=0, name="anonymous", role=Role.viewer)
                else:
                    principal = _principal(request)
                    limit_headers = rate_limit(principal)
                    if not principal.role.allows(role):
                        raise Forbidden(
                            f"This action needs the {role.value} role; your key has {principal.role.value}."
                        )
                result = view(Call(request, principal, info, doc), **url_params)
                if isinstance(result, Response):  # a view that is not JSON (the console's page) answers as it is
                    response = result
                else:
                    reply = result if isinstance(result, Reply) else Reply(result, status)
                    response = json_response(reply.body, reply.status, reply.headers)
            except ApiError as exc:
                response = error_response(exc)
            except DomainError as exc:
                response = error_response(from_domain(exc, doc.query_fields))
            except PynamoDBException as exc:
                mapped = _storage_error(exc)
                response = error_response(mapped) if mapped else _internal_error(exc, info)
            except Exception as exc:
                response = _internal_error(exc, info)
            response.headers["X-Request-Id"] = info.request_id or ""
            response.headers.update(limit_headers)
            logger.info(
                "request",
                extra={
                    "request_id": info.request_id,
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            return response

        handler.__valhalla_route__ = doc  # type: ignore[attr-defined]
        return handler

    return decorate


def rate_limit(principal: Principal) -> dict[str, str]:
    """Count the request against its key's limit: the X-RateLimit-* headers, or 429 when over it."""
    window = get_deps().api_rate_limiter.count(principal.key_id, principal.rate_limit_per_minute)
    headers = {
        "X-RateLimit-Limit": str(window.limit),
        "X-RateLimit-Remaining": str(window.remaining),
        "X-RateLimit-Reset": str(window.reset_epoch),
    }
    if not window.allowed:
        retry_after = window.retry_after(get_deps().clock().timestamp())
        raise TooManyRequests(
            f"Rate limit of {window.limit} requests a minute exceeded for this API key; retry in {retry_after} s.",
            headers={**headers, "Retry-After": str(retry_after)},
        )
    return headers


def _internal_error(exc: Exception, info: RequestInfo) -> Response:
    get_logger().exception("unhandled error", extra={"request_id": info.request_id})
    error = ApiError("Internal server error.", extra={"request_id": info.request_id})
    return error_response(error)
