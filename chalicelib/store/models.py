"""Imports every PynamoDB model so the registry in :mod:`chalicelib.store.base` is complete."""

# Capability modules register their own models when imported here.
from chalicelib.store import audit, counters, exports, idempotency, keys, maintenance, notifications, retention, stats  # noqa: F401  # noqa: F401,E402
