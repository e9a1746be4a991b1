"""Per-container read-through caches of configuration items (API keys, channels).

On the hot path (10,000 requests a second from one service key) every request would
otherwise read the same key item and channel item. A cached value is served for at
most ``VALHALLA_CONFIG_CACHE_SECONDS`` (default 5, 0 = no caching), so a revoked key
or a deactivated channel takes effect everywhere within that bound; a write in the
same container replaces the entry at once. Misses are not cached: a key created in
another container works at its first request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from chalicelib.settings import get_settings

K = TypeVar("K")
V = TypeVar("V")

_ALL: list[ConfigCache[object, object]] = []
MAX_ENTRIES = 10_000


class ConfigCache(Generic[K, V]):
    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._entries: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()
        self._monotonic = monotonic
        _ALL.append(self)  # type: ignore[arg-type]

    def get(self, key: K, load: Callable[[], V | None]) -> V | None:
        ttl = get_settings().config_cache_seconds
        now = self._monotonic()
        if ttl > 0:
            with self._lock:
                hit = self._entries.get(key)
            if hit is not None and now - hit[0] < ttl:
                return hit[1]
        value = load()
        if ttl > 0:
            self.put(key, value)
        return value

    def put(self, key: K, value: V | None) -> None:
        """The value a write in this container just stored (None: forget the key)."""
        with self._lock:
            if value is None:
                self._entries.pop(key, None)
                return
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (self._monotonic(), value)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def clear_all() -> None:
    """Forget every cached item (tests; the endpoint or account changed)."""
    for cache in _ALL:
        cache.clear()
