"""Item 3: below admin, a webhook target's path and query (where tokens live) are never shown.

Not in channels, not in audit summaries, not in the audit-log export file any viewer may
download; admins still see the full target in the API.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

from chalicelib.domain.common import Role
from tests.export_support import drain, read_object
from tests.notify_support import create_channel
from tests.support import Api

SECRET_TARGET = "https://hooks.example.com/services/T0/B0/SECRET?token=tok123"
NEW_TARGET = "https://hooks.example.com/services/T1/B1/OTHERSECRET"
REDACTED = "https://hooks.example.com/[redacted]"


def webhook_with_secret(api: Api) -> dict[str, Any]:
    channel = create_channel(api, name="slack", channel_type="webhook", target=SECRET_TARGET)
    # The update puts the new target into an audit summary.
    assert api.patch(f"/system/notify/channels/{channel['id']}", {"target": NEW_TARGET}).status == 200
    return channel


def test_item03_viewers_and_operators_see_channel_targets_redacted(api: Api, tokens: dict[Role, str]) -> None:
    channel = webhook_with_secret(api)
    email = create_channel(api, name="mail", channel_type="email", target="owner@example.com")

    for role in (Role.viewer, Role.operator):
        caller = api.as_(tokens[role])
        listed = {item["id"]: item["target"] for item in caller.get("/system/notify/channels").json["items"]}
        assert listed == {channel["id"]: REDACTED, email["id"]: "owner@example.com"}
        assert caller.get(f"/system/notify/channels/{channel['id']}").json["target"] == REDACTED
        by_type = caller.get("/system/notify/channels?channel_type=webhook").json["items"]
        assert [item["target"] for item in by_type] == [REDACTED]


def test_item03_viewers_see_audit_summaries_redacted(api: Api, tokens: dict[Role, str]) -> None:
    webhook_with_secret(api)

    events = api.as_(tokens[Role.viewer]).get("/system/audit").json["items"]

    text = json.dumps(events)
    assert "SECRET" not in text and "tok123" not in text
    update = next(event for event in events if event["action"] == "channel.update")
    assert update["summary"]["target"] == REDACTED


def test_item03_the_audit_export_file_holds_targets_redacted(api: Api, tokens: dict[Role, str]) -> None:
    webhook_with_secret(api)
    for file_format in ("jsonl", "csv"):
        job = api.post(
            "/system/exports",
            {"job_type": "audit_log_export", "format": file_format, "filter_params": {"before_date": "2999-01-01"}},
        )
        assert job.status == 201, job.json
        drain()
        # The file is there for any viewer to download.
        done = api.as_(tokens[Role.viewer]).get(f"/system/exports/{job.json['id']}").json
        assert done["status"] == "completed", done

        text = gzip.decompress(read_object(done["storage_url"])).decode()

        assert "channel.update" in text and REDACTED in text, file_format
        assert "SECRET" not in text and "tok123" not in text, file_format


def test_item03_admins_still_see_full_targets(api: Api) -> None:
    channel = webhook_with_secret(api)

    assert api.get(f"/system/notify/channels/{channel['id']}").json["target"] == NEW_TARGET
    assert api.get("/system/notify/channels").json["items"][0]["target"] == NEW_TARGET
    updates = [event for event in api.get("/system/audit").json["items"] if event["action"] == "channel.update"]
    assert updates[0]["summary"]["target"] == NEW_TARGET
