"""The local stack: the whole system on an embedded AWS (moto), no account and no Docker.

``python -m chalicelib.local`` (``make run``) serves the API, pumps the queues into the
SQS handlers and fires the scheduled handlers; :class:`LocalStack` does the same
inside a test or a script. Importing a submodule (``chalicelib.local.gateway`` from
``infra/``) loads nothing else.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LocalStack"]


def __getattr__(name: str) -> Any:
    if name == "LocalStack":
        from chalicelib.local.stack import LocalStack

        return LocalStack
    raise AttributeError(name)
