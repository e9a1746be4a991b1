"""What a caller below admin may see of the secrets inside otherwise readable records.

A webhook target's path and query often carry a token (Slack-style URLs), and a
receiver's error answer may carry anything (stack traces, internal names). Admins see
both in full; everyone else sees a target as the configuration snapshot shows it and a
delivery error as its status code and reason. Export files and system events follow
the viewer's rules: any viewer may read them.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any, TypeVar

from chalicelib.domain.common import Role
from chalicelib.domain.notifications import ChannelType, ChannelView, NotificationView, redact_target

V = TypeVar("V", bound=NotificationView)

# The webhook driver's error for an answer it did not accept: "HTTP <status>: <the receiver's text>".
_RECEIVER_ERROR = re.compile(r"HTTP (\d{3})\b", re.ASCII)


def sees_secrets(role: Role) -> bool:
    return role is Role.admin


def redact_url(value: str) -> str:
    """A whole http(s) URL without its path and query; anything else as it is."""
    if value.startswith(("https://", "http://")):
        return redact_target(ChannelType.webhook, value)
    return value


def redact_urls(value: Any) -> Any:
    """Every http(s) URL inside an audit summary, redacted (a channel's ``target`` among them)."""
    if isinstance(value, dict):
        return {key: redact_urls(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_urls(item) for item in value]
    return redact_url(value) if isinstance(value, str) else value


def public_error(error: str | None) -> str | None:
    """A delivery error without the receiver's answer: ``HTTP 403 Forbidden``; our own words as they are."""
    if not error:
        return error
    match = _RECEIVER_ERROR.match(error)
    if match is None:
        return error
    code = int(match.group(1))
    try:
        reason = HTTPStatus(code).phrase
    except ValueError:
        reason = "Unknown status"
    return f"HTTP {code} {reason}"


def channel_for(role: Role, view: ChannelView) -> ChannelView:
    if sees_secrets(role):
        return view
    return view.model_copy(update={"target": redact_target(view.channel_type, view.target)})


def notification_for(role: Role, view: V) -> V:
    if sees_secrets(role):
        return view
    update: dict[str, Any] = {"last_error": public_error(view.last_error)}
    history = getattr(view, "history", None)
    if history is not None:
        update["history"] = [entry.model_copy(update={"error": public_error(entry.error)}) for entry in history]
    return view.model_copy(update=update)


def event_data_for(role: Role, data: Any) -> Any:
    """An event's data; a ``notification.failed`` stored before errors were cut at emission is cut here."""
    if sees_secrets(role) or not isinstance(data, dict) or not data.get("last_error"):
        return data
    return {**data, "last_error": public_error(data["last_error"])}


def audit_summary_for(role: Role, summary: Any) -> Any:
    return summary if sees_secrets(role) else redact_urls(summary)
