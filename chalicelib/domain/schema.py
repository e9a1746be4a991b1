"""The base models of the API's bodies and queries.

They live apart from :mod:`chalicelib.domain.common` so that importing the routing table
builds no model class: a cold start builds those its request uses, on first use.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field


class Schema(BaseModel):
    """Every model of the API: its validator is built on first use, not at import (cold start)."""

    model_config = ConfigDict(defer_build=True)


class StrictInput(Schema):
    """Base of every request body: unknown fields are an error, strings are stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=False)


class PageQuery(Schema):
    model_config = ConfigDict(extra="ignore")

    limit: int = Field(default=50, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=2048)


T = TypeVar("T")


class Page(Schema, Generic[T]):
    items: list[T]
    next_cursor: str | None
