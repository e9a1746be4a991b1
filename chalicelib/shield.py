"""The read-only shield (the seed's PACK UJ): a decorator on every write route.

In ``read_only`` or ``maintenance`` mode a write gets 503 with the seed's body and a
``Retry-After``. Safe methods pass without reading the state. If the state cannot
be read and nothing is cached, writes are refused (fail closed).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import wraps
from typing import Any

from chalicelib.deps import get_deps
from chalicelib.domain.maintenance_mode import BLOCKED_DETAIL, UNAVAILABLE_DETAIL, Mode, StateUnavailable
from chalicelib.errors import ServiceUnavailable
from chalicelib.http import WRITE_METHODS, Call

View = Callable[..., Any]


def check_writes_allowed() -> None:
    """Raise the shield's 503 unless writes are allowed now."""
    deps = get_deps()
    try:
        state = deps.maintenance.current()
    except StateUnavailable:
        raise ServiceUnavailable(
            UNAVAILABLE_DETAIL,
            headers={"Retry-After": str(deps.settings.shield_retry_after_seconds)},
            extra={"mode": "unknown"},
        ) from None
    if state.mode is Mode.normal:
        return
    retry_after = deps.settings.shield_retry_after_seconds
    if state.ends_at is not None:
        retry_after = max(1, math.ceil((state.ends_at - deps.clock()).total_seconds()))
    raise ServiceUnavailable(
        BLOCKED_DETAIL[state.mode],
        headers={"Retry-After": str(retry_after)},
        extra={"mode": state.mode.value},
    )


def shield(view: View) -> View:
    @wraps(view)
    def shielded(call: Call, **url_params: Any) -> Any:
        if call.method in WRITE_METHODS:
            check_writes_allowed()
        return view(call, **url_params)

    shielded.__valhalla_shielded__ = True  # type: ignore[attr-defined]
    return shielded


def exempt_from_shield(view: View) -> View:
    """Mark a write route that must work in every mode (leaving maintenance)."""
    view.__valhalla_shield_exempt__ = True  # type: ignore[attr-defined]
    return view
