"""Classify botocore errors of SES and SNS as permanent (do not retry) or transient."""

from __future__ import annotations

from typing import Any

from chalicelib.channels.base import DeliveryFailed, permanent, transient

PERMANENT_CODES = frozenset(
    {
        "MessageRejected",
        "MailFromDomainNotVerified",
        "MailFromDomainNotVerifiedException",
        "InvalidParameterValue",
        "InvalidParameter",
        "ValidationError",
        "AccountSendingPausedException",
        "ConfigurationSetDoesNotExist",
        "AuthorizationError",
        "AccessDenied",
        "AccessDeniedException",
        "OptedOut",
        "EndpointDisabled",
    }
)


def classify(exc: Exception, service: str) -> DeliveryFailed:
    response: Any = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error") or {}
        code = str(error.get("Code") or "Unknown")
        message = str(error.get("Message") or exc)
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        text = f"{service} {code}: {message}"
        if code in PERMANENT_CODES:
            return permanent(text, http_status=status)
        return transient(text, http_status=status)
    return transient(f"{service} {type(exc).__name__}: {exc}")
