"""PynamoDB plumbing: table names, endpoint and region resolved lazily from settings.

A model declares ``class Meta(TableMeta): logical_name = "..."``; the physical name,
the endpoint (the local emulator, or none in AWS) and the region are read from
:func:`chalicelib.settings.get_settings` each time PynamoDB asks, never at import.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pynamodb.attributes import TTLAttribute
from pynamodb.connection import Connection, TableConnection
from pynamodb.exceptions import PynamoDBException
from pynamodb.models import Model

from chalicelib.settings import get_settings

# Counters added by one UpdateItem whose attribute names are data (analytics and health
# group rows): well inside an update expression's 4 KB, and moto evaluates the clauses
# recursively (some 150 exhaust Python's stack).
ADDS_PER_WRITE = 100


def add_counters(adds: list[tuple[str, str]]) -> tuple[str, dict[str, str], dict[str, Any]]:
    """``ADD`` clauses for counters whose attribute names are data (``17.sent``, ``a.17.0``).

    ``adds``: (attribute name, number as DynamoDB writes it); returns the expression and
    its attribute names and values, placeholders ``#n<i>`` and ``:v<i>``.
    """
    names = {f"#n{index}": name for index, (name, _) in enumerate(adds)}
    values: dict[str, Any] = {f":v{index}": {"N": number} for index, (_, number) in enumerate(adds)}
    return "ADD " + ", ".join(f"#n{index} :v{index}" for index in range(len(adds))), names, values


class _LazyTableMeta(type):
    @property
    def table_name(cls) -> str:
        return get_settings().table(cls.logical_name)  # type: ignore[attr-defined]

    @property
    def host(cls) -> str | None:
        return get_settings().aws_endpoint_url

    @property
    def region(cls) -> str:
        return get_settings().region


class StoredModel(Model):
    """Base of every table's model: they all send through :func:`shared_connection`'s client.

    PynamoDB keeps a connection per model class (it knows the class's keys and indexes);
    only the botocore client underneath is shared.
    """

    @classmethod
    def _get_connection(cls) -> TableConnection:
        table = super()._get_connection()
        if table.connection._client is None:
            table.connection._client = shared_connection(cls.Meta.region, cls.Meta.host).client
        return table


class TableMeta(metaclass=_LazyTableMeta):
    logical_name = ""
    billing_mode = "PAY_PER_REQUEST"
    max_retry_attempts = 3


MODELS: list[type[Model]] = []


@cache
def _connection(region: str, host: str | None) -> Connection:
    return Connection(region=region, host=host)


def shared_connection(region: str | None = None, host: str | None = None) -> Connection:
    """One PynamoDB connection per endpoint: its botocore client serves every table.

    A new ``Connection`` builds a botocore session and client on first use, loading
    DynamoDB's service model (~115 ms of CPU and ~7 MiB): once per transaction, or once
    per model class, a cold request touching five tables paid it five times.
    """
    settings = get_settings()
    return _connection(region or settings.region, host if host is not None else settings.aws_endpoint_url)


def forget_shared_connections() -> None:
    _connection.cache_clear()


# What a repository raises when DynamoDB could not be read or written (throttled,
# unreachable, refused). Services catch it by this name; the HTTP edge maps it.
StorageError = PynamoDBException


def conditional_failed(exc: Exception) -> bool:
    """True when a PynamoDB write failed only because its condition did not hold."""
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def register(model: type[Model]) -> type[Model]:
    """Class decorator: every registered model gets a table in the local stack and in CDK."""
    MODELS.append(model)
    return model


def table_spec(model: type[Model]) -> dict[str, Any]:
    """The model as a DynamoDB ``CreateTable`` request: the one definition of keys and indexes.

    The local stack creates tables from it and the infrastructure test compares the
    CDK stack with it, so code, emulator and AWS cannot drift apart.
    """
    schema = model._get_schema()
    attributes = {item["AttributeName"]: item["AttributeType"] for item in schema["attribute_definitions"]}
    indexes = []
    for index in schema.get("global_secondary_indexes", []):
        for item in index["attribute_definitions"]:
            attributes[item["AttributeName"]] = item["AttributeType"]
        indexes.append(
            {
                "IndexName": index["index_name"],
                "KeySchema": _hash_first(index["key_schema"]),
                "Projection": index["projection"],
            }
        )
    spec: dict[str, Any] = {
        "TableName": model.Meta.table_name,
        "KeySchema": _hash_first(schema["key_schema"]),
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in sorted(attributes.items())],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if indexes:
        spec["GlobalSecondaryIndexes"] = sorted(indexes, key=lambda index: index["IndexName"])
    return spec


def _hash_first(key_schema: Any) -> list[dict[str, str]]:
    """DynamoDB wants the partition (HASH) key first; PynamoDB may list the sort key first."""
    return sorted(
        ({"AttributeName": key["AttributeName"], "KeyType": key["KeyType"]} for key in key_schema),
        key=lambda key: key["KeyType"] != "HASH",
    )


def ttl_attribute(model: type[Model]) -> str | None:
    for name, attribute in model.get_attributes().items():
        if isinstance(attribute, TTLAttribute):
            return attribute.attr_name or name
    return None
