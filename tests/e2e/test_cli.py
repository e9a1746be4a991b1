"""The ``valhalla`` command against the local stack, through its installed entry point (``.venv/bin/valhalla``)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from chalicelib.local.process import StackProcess

VALHALLA = Path(sys.executable).parent / "valhalla"


def run(
    stack: StackProcess | None, *args: str, token: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("VALHALLA_")}
    if stack is not None:
        env["VALHALLA_URL"] = stack.base_url
        env["VALHALLA_TOKEN"] = token if token is not None else stack.admin_token
    return subprocess.run([str(VALHALLA), *args], env=env, capture_output=True, text=True, timeout=120, cwd=cwd)


def ok_json(stack: StackProcess, *args: str) -> Any:
    done = run(stack, *args, "--json")
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return json.loads(done.stdout)


def test_the_entry_point_is_installed_and_explains_itself() -> None:
    assert VALHALLA.exists(), "make installs the project (pip install -e .), which puts `valhalla` into .venv/bin"
    done = run(None, "--help")
    assert done.returncode == 0
    for group in ("status", "maintenance", "keys", "channels", "notify", "exports", "retention", "stats"):
        assert group in done.stdout


def test_usage_errors_exit_2_and_api_errors_exit_1_with_the_detail(stack: StackProcess) -> None:
    missing = run(stack, "keys", "create", "--name", "no-role")
    assert missing.returncode == 2 and "--role" in missing.stderr
    assert run(stack, "exports", "get", "not-a-number").returncode == 2
    refused = run(stack, "keys", "list", token="vk_not_a_key")
    assert refused.returncode == 1 and "Missing or invalid API key." in refused.stderr
    unknown = run(stack, "notify", "get", "999999")
    assert unknown.returncode == 1 and "not found" in unknown.stderr
    invalid = run(stack, "keys", "create", "--name", "x", "--role", "emperor")
    assert invalid.returncode == 1 and "role" in invalid.stderr


def test_url_and_token_options_win_over_the_environment(stack: StackProcess) -> None:
    done = run(
        stack, "--url", stack.base_url, "--token", stack.admin_token, "maintenance", "get", "--json", token="wrong"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["mode"] == "normal"


def test_status_and_maintenance_round_trip(stack: StackProcess) -> None:
    status = ok_json(stack, "status")
    assert status["health"]["mode"] == "normal" and "pending" in status["backlog"]
    people = run(stack, "status")
    assert people.returncode == 0 and "success rate" in people.stdout
    assert ok_json(stack, "maintenance", "set", "read_only", "--reason", "cli test")["mode"] == "read_only"
    refused = run(stack, "keys", "create", "--name", "during-read-only", "--role", "viewer")
    assert refused.returncode == 1 and "read-only" in refused.stderr
    assert ok_json(stack, "maintenance", "set", "normal")["mode"] == "normal"


def test_keys_create_list_revoke(stack: StackProcess) -> None:
    created = ok_json(stack, "keys", "create", "--name", "cli-viewer", "--role", "viewer")
    assert created["token"].startswith("vk_")
    assert created["id"] in {key["id"] for key in ok_json(stack, "keys", "list")["items"]}
    viewer = run(
        stack,
        "channels",
        "create",
        "--name",
        "x",
        "--type",
        "email",
        "--target",
        "a@example.com",
        token=created["token"],
    )
    assert viewer.returncode == 1 and "admin" in viewer.stderr
    assert run(stack, "keys", "revoke", str(created["id"])).returncode == 0
    assert run(stack, "status", token=created["token"]).returncode == 1


def test_channels_and_a_notification_sent(stack: StackProcess) -> None:
    channel = ok_json(
        stack,
        *("channels", "create", "--name", "cli-email", "--type", "email", "--target", "ops@example.com"),
        *("--rate-limit", "5"),
    )
    assert channel["rate_limit_per_second"] == 5
    assert channel["id"] in {item["id"] for item in ok_json(stack, "channels", "list")["items"]}
    assert ok_json(stack, "channels", "update", str(channel["id"]), "--unlimited")["rate_limit_per_second"] is None
    assert ok_json(stack, "channels", "enable", str(channel["id"]), "--disable")["active"] is False
    assert ok_json(stack, "channels", "enable", str(channel["id"]))["state"] == "healthy"
    assert ok_json(stack, "channels", "get", str(channel["id"]))["active"] is True
    sent = ok_json(
        stack, "notify", "send", "--channel-id", str(channel["id"]), "--subject", "Hi", "--body", "From the CLI"
    )
    assert sent["status"] == "pending"
    deadline = time.monotonic() + 60
    while ok_json(stack, "notify", "get", str(sent["id"]))["status"] != "sent":
        assert time.monotonic() < deadline, "the local stack's pump did not deliver the notification"
        time.sleep(0.5)
    listed = ok_json(stack, "notify", "list", "--status", "sent", "--channel-id", str(channel["id"]))
    assert [item["id"] for item in listed["items"]] == [sent["id"]]
    health = ok_json(stack, "channels", "health", str(channel["id"]))
    assert health["last_hour"]["sent"] == 1
    assert health["health"]["state"] == "healthy" and health["health"]["failure_rate"] == 0
    human = run(stack, "channels", "health", str(channel["id"]))
    assert human.returncode == 0 and "healthy" in human.stdout and "unlimited" in human.stdout
    # Nothing failed: a dry-run replay of the channel's last hour finds nothing, and says so when it ends.
    replay = ok_json(stack, "notify", "replay", "--channel-id", str(channel["id"]), "--dry-run", "--wait")
    assert replay["status"] == "completed" and replay["dry_run"] is True and replay["matched"] == 0
    assert replay["id"] in {item["id"] for item in ok_json(stack, "notify", "replays")["items"]}
    table = run(stack, "notify", "list")
    assert table.returncode == 0 and "From the CLI" not in table.stdout and str(sent["id"]) in table.stdout
    stats = ok_json(stack, "stats", "--granularity", "minute")
    assert stats["deliveries"]["totals"]["sent"] >= 1


def test_exports_create_wait_and_download(stack: StackProcess, tmp_path: Path) -> None:
    job = ok_json(stack, "exports", "create", "--type", "audit_log_export", "--wait")
    assert job["status"] == "completed" and job["row_count"] > 0
    target = tmp_path / "audit.jsonl.gz"
    done = run(stack, "exports", "download", str(job["id"]), "-o", str(target))
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in gzip.decompress(target.read_bytes()).splitlines()]
    assert len(rows) == job["row_count"] and all("action" in row for row in rows)

    # People: a progress bar while it runs, then the file downloaded beside them.
    people = run(stack, "exports", "create", "--type", "config_snapshot", "--format", "csv", "--wait", cwd=tmp_path)
    assert people.returncode == 0, people.stderr
    saved = list(tmp_path.glob("export-*.csv.gz"))
    assert len(saved) == 1 and gzip.decompress(saved[0].read_bytes()).count(b"\n") >= 2  # a header and rows
    assert "export" in people.stderr and "saved to" in people.stdout

    listed = ok_json(stack, "exports", "list", "--status", "completed")
    assert job["id"] in {item["id"] for item in listed["items"]}
    assert ok_json(stack, "exports", "get", str(job["id"]))["progress"]["rows_written"] == job["row_count"]


def test_filters_are_key_value_pairs(stack: StackProcess) -> None:
    bad = run(stack, "exports", "create", "--type", "audit_log_export", "--filter", "no-equals-sign")
    assert bad.returncode == 2
    refused = run(stack, "exports", "create", "--type", "audit_log_export", "--filter", "colour=blue")
    assert refused.returncode == 1 and "colour" in refused.stderr


def test_retention_set_preview_and_a_purge_followed_to_its_end(stack: StackProcess) -> None:
    assert ok_json(stack, "retention", "set", "audit_logs", "--days", "30")["days_to_keep"] == 30
    assert "audit_logs" in {item["category"] for item in ok_json(stack, "retention", "list")["items"]}
    assert ok_json(stack, "retention", "preview", "audit_logs")["count"] == 0
    run_ = ok_json(stack, "retention", "purge", "audit_logs", "--dry-run", "--wait")
    assert run_["status"] == "completed" and run_["dry_run"] is True
