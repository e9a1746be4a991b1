"""Event subscriptions and the event log as the API takes and shows them."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from chalicelib.domain import event_filters
from chalicelib.domain.common import InputTimestamp, RecordId, SingleLine, Timestamp
from chalicelib.domain.events import EVENT_TYPES, pattern_problem
from chalicelib.domain.schema import PageQuery, Schema, StrictInput

MAX_CHANNELS = 10
MAX_PATTERNS = 20
NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9 _.:@-]*$"


def _patterns(value: list[str]) -> list[str]:
    for pattern in value:
        problem = pattern_problem(pattern)
        if problem:
            raise ValueError(problem)
    return list(dict.fromkeys(value))


def _channels(value: list[int]) -> list[int]:
    return list(dict.fromkeys(value))


class SubscriptionFields(StrictInput):
    @field_validator("event_types", check_fields=False)
    @classmethod
    def _known_patterns(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _patterns(value)

    @field_validator("channel_ids", check_fields=False)
    @classmethod
    def _unique_channels(cls, value: list[int] | None) -> list[int] | None:
        return None if value is None else _channels(value)


class CreateSubscription(SubscriptionFields):
    name: SingleLine = Field(min_length=1, max_length=256, pattern=NAME_RE)
    channel_ids: list[RecordId] = Field(min_length=1, max_length=MAX_CHANNELS)
    event_types: list[SingleLine] = Field(min_length=1, max_length=MAX_PATTERNS)
    filter: dict[str, Any] | None = None
    enabled: bool = True


class UpdateSubscription(SubscriptionFields):
    channel_ids: list[RecordId] | None = Field(default=None, min_length=1, max_length=MAX_CHANNELS)
    event_types: list[SingleLine] | None = Field(default=None, min_length=1, max_length=MAX_PATTERNS)
    filter: dict[str, Any] | None = None
    enabled: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> UpdateSubscription:
        if not self.model_fields_set:
            raise ValueError("Give at least one of channel_ids, event_types, filter, enabled.")
        for name in ("channel_ids", "event_types", "enabled"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name}: must not be null")
        return self


class SubscriptionView(Schema):
    id: int
    name: str
    channel_ids: list[int]
    event_types: list[str]
    filter: dict[str, Any] | None = None
    enabled: bool
    created_at: Timestamp
    updated_at: Timestamp


class EventTypeView(Schema):
    type: str
    description: str
    schema_: dict[str, Any] = Field(alias="schema", serialization_alias="schema")


class EventTypes(Schema):
    items: list[EventTypeView]


class Envelope(Schema):
    id: str = Field(min_length=1, max_length=64)
    type: str = Field(min_length=1, max_length=128)
    time: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class FilterTest(StrictInput):
    filter: dict[str, Any]
    event: dict[str, Any]


class FilterResult(Schema):
    matches: bool


class TestEvent(StrictInput):
    event_type: SingleLine

    @field_validator("event_type")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in EVENT_TYPES:
            raise ValueError(f"Unknown event type {value!r}; see GET /system/events/types.")
        return value


class SentEvent(Schema):
    event_id: str
    notification_ids: list[int]


class EventQuery(PageQuery):
    type: str | None = Field(default=None, max_length=128)
    since: InputTimestamp | None = None
    until: InputTimestamp | None = None


class EventView(Schema):
    id: str
    type: str
    time: str
    data: dict[str, Any]
    notification_ids: list[int]
    fanout: str = Field(description="done, or pending while its notifications are being written")


def filter_problems(spec: Any, loc: list[str | int]) -> list[dict[str, Any]]:
    """The filter's problems as 422 ``detail`` entries."""
    return [
        {"loc": where, "msg": message, "type": "value_error.filter"}
        for where, message in event_filters.check(spec, loc)
    ]
