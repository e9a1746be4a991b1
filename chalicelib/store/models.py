"""Every PynamoDB model of the system, and what needs all of them (table creation, connections).

Importing the model modules fills the registry in :mod:`chalicelib.store.base`.
"""

from __future__ import annotations

from pynamodb.models import Model

from chalicelib.store import (  # noqa: F401
    audit,
    counters,
    event_subscriptions,
    events,
    exports,
    health,
    idempotency,
    keys,
    maintenance,
    notifications,
    ratelimits,
    replays,
    retention,
    stats,
)
from chalicelib.store.base import MODELS, forget_shared_connections, table_spec, ttl_attribute


def all_models() -> list[type[Model]]:
    return list(MODELS)


def reset_connections() -> None:
    """Forget cached connections (the endpoint or credentials changed).

    Every model class counts, also those that are items of another table and so are
    not registered as tables of their own (``AuditDays`` lives in the counters table).
    """
    all_models()
    forget_shared_connections()
    pending: list[type[Model]] = list(Model.__subclasses__())
    while pending:
        model = pending.pop()
        model._connection = None
        pending.extend(model.__subclasses__())


def create_tables() -> None:
    """Create every registered table that does not exist yet (the local stack, the tests)."""
    from chalicelib import aws

    dynamodb = aws.client("dynamodb")
    existing = set(dynamodb.list_tables()["TableNames"])
    for model in all_models():
        spec = table_spec(model)
        if spec["TableName"] in existing:
            continue
        dynamodb.create_table(**spec)
        ttl = ttl_attribute(model)
        if ttl:
            dynamodb.update_time_to_live(
                TableName=spec["TableName"], TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl}
            )
