"""Every table's model sends through one botocore client per endpoint: a model class's first
request no longer builds a client of its own (loading DynamoDB's service model each time)."""

from __future__ import annotations

import importlib
import pkgutil

from pynamodb.models import Model

import chalicelib.store
from chalicelib.store.base import StoredModel, shared_connection
from tests.support import Api


def _model_classes() -> set[type[Model]]:
    for module in pkgutil.iter_modules(chalicelib.store.__path__):
        importlib.import_module(f"chalicelib.store.{module.name}")
    found: set[type[Model]] = set()
    pending = list(Model.__subclasses__())
    while pending:
        model = pending.pop()
        if model.__module__.startswith("chalicelib.store."):
            found.add(model)
        pending.extend(model.__subclasses__())
    return found - {StoredModel}


def test_every_model_of_the_store_is_a_stored_model() -> None:
    models = _model_classes()
    assert len(models) >= 20
    assert {model.__name__ for model in models if not issubclass(model, StoredModel)} == set()


def test_the_tables_a_request_touches_share_one_client(api: Api) -> None:
    channel = api.post(
        "/system/notify/channels", {"name": "shared", "channel_type": "email", "target": "a@example.com"}
    )
    assert channel.status == 201, channel.json
    assert api.post("/system/notify/", {"channel_id": channel.json["id"], "subject": "s", "body": "b"}).status == 201

    from chalicelib.store.audit import AuditItem
    from chalicelib.store.notifications import ChannelItem, ContentItem, OutboxItem

    clients = {
        id(model._get_connection().connection.client) for model in (AuditItem, ChannelItem, ContentItem, OutboxItem)
    }
    assert clients == {id(shared_connection().client)}
