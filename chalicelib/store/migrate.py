"""Moving a deployment's items to the sharded layout: ``python -m chalicelib.store.migrate``.

The procedure (``docs/design/data-layout.md``): deploy the new stack (it adds the
``notification_content`` table and the sharded indexes), then run this command until
it reports ``done``. It is idempotent (every write puts the value the new layout
wants, whatever ran before) and resumable (after every page it saves where it stands
in the counters table, and a run continues there). Until it is done, lists do not show
the items it has not reached yet; a pending notification it has not reached waits
(its delivery finds no content and retries later).

Per outbox item of the old layout: its content goes to ``notification_content`` (once:
conditional put), then the item gets its shard keys and loses its content, the
``kind``/``queue_state`` attributes and all but the latest attempts. Per audit event
stored under a bare day: the same event under ``<day>#<shard>`` with its shard keys,
then the old one is deleted.
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib
from dataclasses import dataclass, field
from typing import Any

from chalicelib.settings import get_settings
from chalicelib.store.sharding import shard_count, sharded

CHECKPOINT_KEY = "migration#sharded-layout"
HISTORY_KEPT = 10
STEPS = ("outbox", "audit")


@dataclass
class Report:
    outbox_migrated: int = 0
    audit_migrated: int = 0
    pages: int = 0
    done: bool = False
    steps_done: list[str] = field(default_factory=list)


def _client() -> Any:
    from chalicelib import aws

    return aws.client("dynamodb")


def _checkpoint(client: Any) -> dict[str, Any]:
    table = get_settings().table("counters")
    item = client.get_item(TableName=table, Key={"name": {"S": CHECKPOINT_KEY}}, ConsistentRead=True).get("Item")
    return json.loads(item["state"]["S"]) if item else {}


def _save(client: Any, state: dict[str, Any]) -> None:
    table = get_settings().table("counters")
    client.put_item(
        TableName=table, Item={"name": {"S": CHECKPOINT_KEY}, "state": {"S": json.dumps(state, sort_keys=True)}}
    )


def _migrate_outbox_item(client: Any, item: dict[str, Any]) -> bool:
    if "status_key" in item and "body" not in item and "kind" not in item:
        return False  # already in the new layout
    settings = get_settings()
    identifier = int(item["id"]["N"])
    if "body" in item or "subject" in item:
        content = {"id": item["id"], "subject": item.get("subject", {"S": ""}), "body": item.get("body", {"S": ""})}
        if "payload" in item:
            content["payload"] = item["payload"]
        try:
            client.put_item(
                TableName=settings.table("notification_content"),
                Item=content,
                ConditionExpression="attribute_not_exists(id)",
            )
        except client.exceptions.ConditionalCheckFailedException:
            pass  # a run before this one moved it already
    shard = identifier % shard_count()
    history = (item.get("history") or {"L": []})["L"][-HISTORY_KEPT:]
    client.update_item(
        TableName=settings.table("notification_outbox"),
        Key={"id": item["id"]},
        UpdateExpression=(
            "SET status_key = :s, channel_key = :c, history = :h REMOVE subject, body, payload, kind, queue_state"
        ),
        ConditionExpression="attribute_exists(id)",
        ExpressionAttributeValues={
            ":s": {"S": sharded(item["status"]["S"], shard)},
            ":c": {"S": sharded(item["channel_id"]["N"], shard)},
            ":h": {"L": history},
        },
    )
    return True


def _migrate_audit_item(client: Any, item: dict[str, Any]) -> bool:
    if "#" in item["day"]["S"]:
        return False
    table = get_settings().table("audit_log")
    shard = zlib.crc32(item["event_id"]["S"].encode()) % shard_count()
    moved = dict(item)
    moved["day"] = {"S": sharded(item["day"]["S"], shard)}
    moved["actor_key"] = {"S": sharded(item["actor"]["S"], shard)}
    moved["action_key"] = {"S": sharded(item["action"]["S"], shard)}
    client.put_item(TableName=table, Item=moved)
    client.delete_item(TableName=table, Key={"day": item["day"], "sk": item["sk"]})
    return True


def migrate(page_size: int = 100, max_pages: int | None = None) -> Report:
    """Run (or continue) the migration; ``max_pages`` stops early (the rest is for the next run)."""
    client = _client()
    settings = get_settings()
    state = _checkpoint(client)
    report = Report(steps_done=list(state.get("done", [])))
    tables = {"outbox": settings.table("notification_outbox"), "audit": settings.table("audit_log")}
    migrate_item = {"outbox": _migrate_outbox_item, "audit": _migrate_audit_item}
    for step in STEPS:
        if step in report.steps_done:
            continue
        while True:
            if max_pages is not None and report.pages >= max_pages:
                return report
            request: dict[str, Any] = {"TableName": tables[step], "Limit": page_size, "ConsistentRead": True}
            if state.get(step):
                request["ExclusiveStartKey"] = state[step]
            page = client.scan(**request)
            for item in page.get("Items", []):
                if migrate_item[step](client, item):
                    if step == "outbox":
                        report.outbox_migrated += 1
                    else:
                        report.audit_migrated += 1
            report.pages += 1
            state[step] = page.get("LastEvaluatedKey")
            if not state[step]:
                report.steps_done.append(step)
                state["done"] = report.steps_done
            _save(client, state)
            if not state[step]:
                break
    report.done = True
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.store.migrate", description=__doc__)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--max-pages", type=int, default=None, help="stop after this many Scan pages")
    args = parser.parse_args(argv)
    report = migrate(args.page_size, args.max_pages)
    print(
        f"outbox items migrated: {report.outbox_migrated}; audit events migrated: {report.audit_migrated}; "
        f"pages: {report.pages}; {'done' if report.done else 'not done yet: run again to continue'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
