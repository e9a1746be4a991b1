"""Count the AWS API calls code makes, through botocore's event hooks.

Every boto3 client created while the counter is installed gets a ``before-call``
handler (one event per API operation, retries excluded); the clients that exist
already (the cached ``chalicelib.aws`` clients, PynamoDB's connection clients) are
hooked as well. Usage::

    with AwsCallCounter() as counter:
        with counter.measure() as calls:
            do_something()
        print(calls.total, calls.by_api)
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

HANDLER_ID = "valhalla-aws-call-counter"


@dataclass
class Calls:
    by_api: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.by_api.values())

    def as_dict(self) -> dict[str, int]:
        return dict(sorted(self.by_api.items()))


class AwsCallCounter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scopes: list[Calls] = []
        self.all = Calls()
        self._original_create_client: Any = None

    # --- installation -------------------------------------------------
    def hook(self, client: Any) -> Any:
        client.meta.events.register("before-call.*.*", self._count, unique_id=HANDLER_ID)
        return client

    def hook_existing(self) -> None:
        """Hook the clients already built: ``chalicelib.aws``'s cache and PynamoDB's connections."""
        from chalicelib import aws
        from chalicelib.store.models import all_models

        for service in ("dynamodb", "sqs", "s3", "ses", "sns"):
            self.hook(aws.client(service))
        for model in all_models():
            self.hook(model._get_connection().connection.client)

    def __enter__(self) -> AwsCallCounter:
        import botocore.session

        original = botocore.session.Session.create_client
        counter = self

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            return counter.hook(original(session, *args, **kwargs))

        self._original_create_client = original
        botocore.session.Session.create_client = create_client  # type: ignore[method-assign,assignment]
        self.hook_existing()
        return self

    def __exit__(self, *exc: object) -> None:
        import botocore.session

        botocore.session.Session.create_client = self._original_create_client  # type: ignore[method-assign,assignment]

    # --- counting -----------------------------------------------------
    def _count(self, event_name: str = "", **kwargs: Any) -> None:
        _, service, operation = event_name.split(".", 2)
        api = f"{service}.{operation}"
        with self._lock:
            self.all.by_api[api] += 1
            for scope in self._scopes:
                scope.by_api[api] += 1

    @contextlib.contextmanager
    def measure(self) -> Iterator[Calls]:
        calls = Calls()
        with self._lock:
            self._scopes.append(calls)
        try:
            yield calls
        finally:
            with self._lock:
                self._scopes.remove(calls)
