from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, model_validator

from chalicelib.domain.common import InputTimestamp, Timestamp
from chalicelib.domain.schema import Schema

SECRET_WORDS = ("secret", "token", "password", "signing", "authorization")


def redact(summary: Any) -> Any:
    """Replace the value of any key that names a secret."""
    if isinstance(summary, dict):
        return {
            key: "[redacted]" if any(word in str(key).lower() for word in SECRET_WORDS) else redact(value)
            for key, value in summary.items()
        }
    if isinstance(summary, list):
        return [redact(value) for value in summary]
    return summary


class AuditEvent(Schema):
    id: str
    at: Timestamp
    actor: str
    actor_key_id: int | None = Field(
        default=None, description="The id of the API key that acted (0: the system; null: recorded before ids were)."
    )
    role: str
    action: str
    resource_type: str
    resource_id: str | None = None
    summary: Any = None
    request_id: str | None = None
    source_ip: str | None = None


class AuditQuery(Schema):
    model_config = ConfigDict(extra="forbid")

    start: InputTimestamp | None = None
    end: InputTimestamp | None = None
    actor: str | None = Field(default=None, min_length=1, max_length=128)
    action: str | None = Field(default=None, min_length=1, max_length=128)
    limit: int = Field(default=50, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=2048)

    @model_validator(mode="after")
    def _range(self) -> AuditQuery:
        if self.start and self.end and self.start > self.end:
            raise ValueError("start must not be after end")
        return self
