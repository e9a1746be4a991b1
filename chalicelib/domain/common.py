"""Types every capability shares: roles, the principal, timestamps, pages."""

from __future__ import annotations

import importlib
from datetime import datetime
from enum import Enum
from functools import cache
from typing import Annotated, Any, NamedTuple

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, Field, PlainSerializer

from chalicelib.clock import isoformat


class Role(str, Enum):
    viewer = "viewer"
    operator = "operator"
    admin = "admin"

    @property
    def rank(self) -> int:
        return {"viewer": 1, "operator": 2, "admin": 3}[self.value]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


# Small immutable records are NamedTuples: a frozen dataclass costs a cold start about a
# millisecond each to build (its generated methods are compiled at import).
class Principal(NamedTuple):
    """Who is calling: the API key's name, id and role."""

    key_id: int
    name: str
    role: Role
    rate_limit_per_minute: int | None = None  # None: the default limit


SYSTEM_PRINCIPAL = Principal(key_id=0, name="system", role=Role.admin)


class RequestInfo(NamedTuple):
    """Where an audited request came from."""

    request_id: str | None = None
    source_ip: str | None = None


# A datetime that always serialises as ISO 8601 UTC with a Z.
Timestamp = Annotated[datetime, PlainSerializer(lambda value: isoformat(value), return_type=str)]
# An input datetime that must carry a timezone.
InputTimestamp = Annotated[AwareDatetime, BeforeValidator(lambda value: _iso_text(value))]


def _iso_text(value: Any) -> Any:
    """Timestamps arrive as ISO 8601 text; a bare number is not read as seconds since 1970."""
    if isinstance(value, (int, float)):
        raise ValueError("must be an ISO 8601 date-time string with a timezone")
    return value


def reject_control_characters(value: str) -> str:
    """Refuse control characters (tab and newline excepted) in free text."""
    if any(ord(char) < 32 and char not in "\t\n" or 127 <= ord(char) < 160 for char in value):
        raise ValueError("must not contain control characters")
    return value


def reject_all_control_characters(value: str) -> str:
    """Refuse every control character, newlines included (names, subjects, identifiers)."""
    if any(ord(char) < 32 or 127 <= ord(char) < 160 for char in value):
        raise ValueError("must not contain control characters")
    return value


# Free text (descriptions, bodies): no control characters but tab and newline.
PlainText = Annotated[str, AfterValidator(reject_control_characters)]
# One-line text (names, subjects): no control characters at all.
SingleLine = Annotated[str, AfterValidator(reject_all_control_characters)]


def _reject_bool(value: Any) -> Any:
    """JSON ``true`` is not the id 1."""
    if isinstance(value, bool):
        raise ValueError("must be an integer")
    return value


# A reference to a record by its integer id.
RecordId = Annotated[int, BeforeValidator(_reject_bool), Field(ge=1, le=10**15)]


class PageOf:
    """``Page[item]`` for a route's declaration, parametrized when the OpenAPI document asks.

    Parametrizing a generic model builds its validator at once (and makes pydantic look
    for plugins), which a cold start would pay for on every list route.
    """

    def __init__(self, item: type[BaseModel] | str) -> None:
        self.item = item

    @property
    def model(self) -> Any:
        from chalicelib.domain.schema import Page

        return Page[resolve_model(self.item)]  # type: ignore[misc]


# A route names its models as "module.Model" (in chalicelib.domain) so that importing the
# routing table does not build every model class: a cold start builds only those its
# request uses, and the OpenAPI document builds them all when it is asked for.
ModelRef = type[BaseModel] | PageOf | str


@cache
def _named_model(name: str) -> Any:
    module, _, attribute = name.rpartition(".")
    if not module or not attribute:
        raise ValueError(f"model reference {name!r}: expected 'module.Model' (a module of chalicelib.domain)")
    return getattr(importlib.import_module(f"chalicelib.domain.{module}"), attribute)


def resolve_model(ref: Any) -> Any:
    """The model a route declared: a class or a ``PageOf`` as given, a name imported now."""
    return _named_model(ref) if isinstance(ref, str) else ref


def page_body(items: list[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"items": items, "next_cursor": next_cursor}
