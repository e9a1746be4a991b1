from __future__ import annotations

from pydantic import Field

from chalicelib.domain.common import Role, Timestamp
from chalicelib.domain.ratelimit import MAX_RATE_PER_MINUTE
from chalicelib.domain.schema import Schema, StrictInput


class CreateKey(StrictInput):
    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")
    role: Role
    rate_limit_per_minute: int | None = Field(
        default=None,
        ge=1,
        le=MAX_RATE_PER_MINUTE,
        description="Requests a minute this key may make; default VALHALLA_API_RATE_LIMIT_PER_MINUTE.",
    )


class ApiKeyView(Schema):
    id: int
    name: str
    role: Role
    prefix: str
    created_at: Timestamp
    created_by: str | None = None
    revoked_at: Timestamp | None = None
    rate_limit_per_minute: int | None = Field(default=None, description="null: the default limit.")


class CreatedKey(ApiKeyView):
    token: str
