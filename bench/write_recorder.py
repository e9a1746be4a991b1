"""Record the DynamoDB writes (and SQS requests) a piece of code really sends, priced in WRU.

Every botocore client created while the recorder is installed (boto3's, and the one
each PynamoDB connection builds with ``session.create_client``) gets two event hooks:

- ``before-call.dynamodb.*``: for a write (``PutItem``, ``UpdateItem``, ``DeleteItem``,
  ``BatchWriteItem``, ``TransactWriteItems``) the request body as sent is parsed, and
  each item it touches is read *before* the write, with a separate client that carries
  no hooks (a consistent ``GetItem`` on the same emulator);
- ``after-call.dynamodb.*``: the items are read again *after* the write (``PutItem``'s
  and ``BatchWriteItem``'s items are the request's own), and :func:`bench.wru.write_charges`
  prices each one with the table's keys and index projections from ``DescribeTable``.

``before-call.sqs.*`` counts SQS requests (each is one billed request: the bodies are
far below 64 KB). Writes run one at a time in the measured code, so the item read
before a write is the one it changed. Usage::

    with WriteRecorder() as recorder:
        reset_all()                       # new clients: hooked
        with recorder.measure() as ledger:
            do_something()
        ledger.charges, ledger.sqs
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bench.wru import Charge, Item, Table, write_charges

HOOK_ID = "valhalla-write-recorder"
WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
_PLAN = "valhalla_write_plan"


@dataclass
class Ledger:
    charges: list[Charge] = field(default_factory=list)
    sqs: Counter[str] = field(default_factory=Counter)
    dynamodb_writes: Counter[str] = field(default_factory=Counter)


@dataclass
class _Write:
    table: str
    key: Item
    before: Item | None
    request_item: Item | None = None  # a put's item, as sent
    kind: str = "Put"  # Put | Update | Delete | ConditionCheck


class WriteRecorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ledgers: list[Ledger] = []
        self._tables: dict[str, Table] = {}
        self._reader: Any = None
        self._original_create_client: Any = None

    # --- installation ----------------------------------------------------------------

    def __enter__(self) -> WriteRecorder:
        import botocore.session

        from chalicelib.settings import get_settings

        settings = get_settings()
        # The reader is made before the hooks exist, so its own calls are never recorded.
        self._reader = botocore.session.get_session().create_client(
            "dynamodb",
            region_name=settings.region,
            endpoint_url=settings.aws_endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        original = botocore.session.Session.create_client
        recorder = self

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            return recorder.hook(original(session, *args, **kwargs))

        self._original_create_client = original
        botocore.session.Session.create_client = create_client  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        import botocore.session

        botocore.session.Session.create_client = self._original_create_client  # type: ignore[method-assign]

    def hook(self, client: Any) -> Any:
        events = client.meta.events
        events.register("before-call.dynamodb.*", self._before, unique_id=f"{HOOK_ID}-before")
        events.register("after-call.dynamodb.*", self._after, unique_id=f"{HOOK_ID}-after")
        events.register("before-call.sqs.*", self._sqs, unique_id=f"{HOOK_ID}-sqs")
        return client

    @contextlib.contextmanager
    def measure(self) -> Iterator[Ledger]:
        ledger = Ledger()
        with self._lock:
            self._ledgers.append(ledger)
        try:
            yield ledger
        finally:
            with self._lock:
                self._ledgers.remove(ledger)

    # --- the emulator, read without hooks --------------------------------------------

    def table(self, name: str) -> Table:
        if name not in self._tables:
            self._tables[name] = Table.from_description(self._reader.describe_table(TableName=name)["Table"])
        return self._tables[name]

    def _get(self, table: str, key: Item) -> Item | None:
        item = self._reader.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        return dict(item) if item else None

    # --- hooks -------------------------------------------------------------------------

    def _active(self) -> bool:
        with self._lock:
            return bool(self._ledgers)

    def _record(self, charges: list[Charge], operation: str) -> None:
        with self._lock:
            for ledger in self._ledgers:
                ledger.charges.extend(charges)
                ledger.dynamodb_writes[operation] += 1

    def _sqs(self, event_name: str = "", **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        with self._lock:
            for ledger in self._ledgers:
                ledger.sqs[operation] += 1

    def _before(self, event_name: str = "", params: Any = None, context: Any = None, **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        if operation not in WRITES or not self._active() or context is None:
            return
        body = json.loads(params["body"] or b"{}")
        context[_PLAN] = (operation, self._plan(operation, body))

    def _plan(self, operation: str, body: dict[str, Any]) -> list[_Write]:
        if operation == "PutItem":
            item = body["Item"]
            key = self.table(body["TableName"]).key_of(item)
            return [_Write(body["TableName"], key, self._get(body["TableName"], key), item)]
        if operation in ("UpdateItem", "DeleteItem"):
            kind = "Update" if operation == "UpdateItem" else "Delete"
            return [_Write(body["TableName"], body["Key"], self._get(body["TableName"], body["Key"]), kind=kind)]
        writes = []
        if operation == "BatchWriteItem":
            for table, requests in body["RequestItems"].items():
                for request in requests:
                    if "PutRequest" in request:
                        item = request["PutRequest"]["Item"]
                        key = self.table(table).key_of(item)
                        writes.append(_Write(table, key, self._get(table, key), item))
                    else:
                        key = request["DeleteRequest"]["Key"]
                        writes.append(_Write(table, key, self._get(table, key), kind="Delete"))
            return writes
        for action in body["TransactItems"]:  # TransactWriteItems
            (kind, spec), *_ = action.items()
            table = spec["TableName"]
            key = self.table(table).key_of(spec["Item"]) if kind == "Put" else spec["Key"]
            writes.append(_Write(table, key, self._get(table, key), spec.get("Item"), kind))
        return writes

    def _unprocessed(self, parsed: Any) -> set[tuple[str, str]]:
        left = set()
        for table, requests in ((parsed or {}).get("UnprocessedItems") or {}).items():
            for request in requests:
                if "PutRequest" in request:
                    key = self.table(table).key_of(request["PutRequest"]["Item"])
                else:
                    key = request["DeleteRequest"]["Key"]
                left.add((table, _frozen(key)))
        return left

    def _after(
        self, event_name: str = "", http_response: Any = None, parsed: Any = None, context: Any = None, **_: Any
    ) -> None:
        planned = (context or {}).pop(_PLAN, None)
        if planned is None:
            return
        operation, writes = planned
        ok = http_response is not None and http_response.status_code < 300
        unprocessed = self._unprocessed(parsed) if ok and operation == "BatchWriteItem" else set()
        transactional = operation == "TransactWriteItems"
        charges: list[Charge] = []
        for write in writes:
            table = self.table(write.table)
            if ok and (write.table, _frozen(write.key)) in unprocessed:
                continue  # not written: the caller sends it again, and that call is recorded
            if not ok or write.kind == "ConditionCheck":
                charges += write_charges(
                    table, write.before, None, key=write.key, applied=False, transactional=transactional
                )
                continue
            after = (
                None
                if write.kind == "Delete"
                else write.request_item
                if write.kind == "Put"
                else self._get(write.table, write.key)
            )
            charges += write_charges(table, write.before, after, key=write.key, transactional=transactional)
        self._record(charges, operation)


def _frozen(key: Item) -> str:
    return json.dumps(key, sort_keys=True, default=str)
