"""What can go wrong in a use case, in the domain's words: no status codes, no headers.

The HTTP edge (:func:`chalicelib.errors.from_domain`) maps each to a status, a
``loc`` and headers; a background worker reads them as they are.
"""

from __future__ import annotations

from typing import NamedTuple


class DomainError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """The thing asked for does not exist."""


class Conflict(DomainError):
    """The request contradicts the current state (a duplicate, an illegal change)."""


class TooLarge(DomainError):
    """An input is larger than the system accepts."""


class Busy(DomainError):
    """Cannot be done now; worth trying again after ``retry_after`` seconds (None: unknown)."""

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Problem(NamedTuple):
    """One input that is not acceptable: its path among the use case's inputs, why, and a type code."""

    field: tuple[str | int, ...]
    msg: str
    type: str = "value_error"


class InvalidField(DomainError):
    """One or more inputs of the use case are not acceptable."""

    def __init__(self, field: str | tuple[str | int, ...], msg: str, type_: str = "value_error") -> None:
        path = (field,) if isinstance(field, str) else tuple(field)
        super().__init__(f"{'.'.join(map(str, path))}: {msg}")
        self.problems = [Problem(path, msg, type_)]

    @classmethod
    def many(cls, problems: list[Problem]) -> InvalidField:
        error = cls(problems[0].field, problems[0].msg, problems[0].type)
        error.problems = list(problems)
        return error

    @property
    def field(self) -> tuple[str | int, ...]:
        return self.problems[0].field
