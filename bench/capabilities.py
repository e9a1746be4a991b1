"""AWS calls and memory of the capability packs' operations, measured against their floors.

Each operation runs inside an emulated AWS account with a call counter installed
(see :mod:`bench.run`); it returns ``calls`` (what it made), ``by_api`` and ``floor``.
An operation whose capability is not in the tree raises :class:`NotReady`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

from bench.env import NotReady


def _need(*modules: str) -> None:
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise NotReady(f"{', '.join(missing)} not present")


def enqueue(counter: Any) -> dict[str, Any]:
    _need("chalicelib.services.notifications")
    raise NotReady("enqueue measurement not written yet")


def deliver(counter: Any) -> dict[str, Any]:
    _need("chalicelib.workers.notifications")
    raise NotReady("deliver measurement not written yet")


def purge_1000_of_10000(counter: Any) -> dict[str, Any]:
    _need("bench.purge_calls")
    raise NotReady("purge measurement not written yet")


def export_10000(counter: Any) -> dict[str, Any]:
    _need("chalicelib.workers.exports")
    raise NotReady("export measurement not written yet")


OPERATIONS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "enqueue": enqueue,
    "deliver": deliver,
    "purge_1000_of_10000": purge_1000_of_10000,
    "export_10000": export_10000,
}


def export_memory() -> dict[str, Any]:
    _need("bench.export_memory")
    raise NotReady("export memory measurement not wired yet")
