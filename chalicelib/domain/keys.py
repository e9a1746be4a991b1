from __future__ import annotations

from pydantic import Field

from chalicelib.domain.common import Role, Schema, StrictInput, Timestamp


class CreateKey(StrictInput):
    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")
    role: Role


class ApiKeyView(Schema):
    id: int
    name: str
    role: Role
    prefix: str
    created_at: Timestamp
    created_by: str | None = None
    revoked_at: Timestamp | None = None


class CreatedKey(ApiKeyView):
    token: str
