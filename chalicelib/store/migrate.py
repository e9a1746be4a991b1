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
then the old one is deleted. Per delivery-counter row of one channel (before channels
shared a row per group): its counters are added to the group's row and the old row
deleted, in one transaction.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import zlib
from dataclasses import dataclass, field
from typing import Any

from chalicelib.settings import get_settings
from chalicelib.store.base import add_counters
from chalicelib.store.sharding import shard_count, sharded
from chalicelib.store.stats import channel_counter, channel_group

CHECKPOINT_KEY = "migration#sharded-layout"
HISTORY_KEPT = 10
STEPS = ("outbox", "audit", "stats")
# A delivery-counter row of one channel (the layout before channel groups): dlv#<m|h|d>#<channel id>#...
OLD_CHANNEL_ROW = re.compile(r"^dlv#([mhd])#(\d+)#(.+)$")


@dataclass
class Report:
    outbox_migrated: int = 0
    audit_migrated: int = 0
    stats_migrated: int = 0
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


def _migrate_stats_item(client: Any, item: dict[str, Any]) -> bool:
    """Add a channel's old row into its group's row and delete it, in one transaction.

    The delete is conditional on the old row, so a repeated run cannot add the same counts twice.
    """
    match = OLD_CHANNEL_ROW.match(item["pk"]["S"])
    if match is None:
        return False
    code, channel, rest = match.group(1), int(match.group(2)), match.group(3)
    table = get_settings().table("stats")
    counters = [(channel_counter(channel, name), value["N"]) for name, value in sorted(item.items()) if "N" in value]
    expression, names, values = add_counters(counters) if counters else ("", {}, {})
    sets = []
    for name in ("kind", "ends"):
        if name in item:
            names[f"#{name}"] = name
            values[f":{name}"] = item[name]
            sets.append(f"#{name} = if_not_exists(#{name}, :{name})")
    if sets:
        expression += " SET " + ", ".join(sets)
    group_row: dict[str, Any] = {
        "TableName": table,
        "Key": {"pk": {"S": f"dlv#{code}#{channel_group(channel)}#{rest}"}, "sk": item["sk"]},
        "UpdateExpression": expression.strip(),
    }
    if names:
        group_row.update(ExpressionAttributeNames=names, ExpressionAttributeValues=values)
    old_row = {"TableName": table, "Key": {"pk": item["pk"], "sk": item["sk"]}}
    try:
        client.transact_write_items(
            TransactItems=[
                {"Update": group_row},
                {"Delete": {**old_row, "ConditionExpression": "attribute_exists(pk)"}},
            ]
        )
    except client.exceptions.TransactionCanceledException:
        return False  # a run before this one moved it (or a writer raced us: the next run retries)
    return True


def migrate(page_size: int = 100, max_pages: int | None = None) -> Report:
    """Run (or continue) the migration; ``max_pages`` stops early (the rest is for the next run)."""
    client = _client()
    settings = get_settings()
    state = _checkpoint(client)
    report = Report(steps_done=list(state.get("done", [])))
    tables = {
        "outbox": settings.table("notification_outbox"),
        "audit": settings.table("audit_log"),
        "stats": settings.table("stats"),
    }
    migrate_item = {"outbox": _migrate_outbox_item, "audit": _migrate_audit_item, "stats": _migrate_stats_item}
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
                    counter = f"{step}_migrated"
                    setattr(report, counter, getattr(report, counter) + 1)
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
        f"channel stats rows migrated: {report.stats_migrated}; "
        f"pages: {report.pages}; {'done' if report.done else 'not done yet: run again to continue'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
