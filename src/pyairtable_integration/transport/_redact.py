"""Secrets taken out of what debug logging prints: tokens, passwords, webhook secrets."""

from __future__ import annotations

import json
import re
from typing import Any

REDACTED = "[redacted]"
SECRET_KEYS = frozenset(
    {
        "access_token",
        "refresh_token",
        "token",
        "password",
        "current_password",
        "new_password",
        "secret",
        "authorization",
        "cookie",
        "set-cookie",
    }
)
SECRET_PARAMS = frozenset({"token", "access_token", "signature", "sig"})
_QUERY_SECRET = re.compile(r"([?&](?:" + "|".join(SECRET_PARAMS) + r")=)[^&#]*", re.IGNORECASE)
BODY_PREVIEW = 2000  # characters of a body a debug line shows


def redact_url(url: str) -> str:
    """``url`` with the values of secret query parameters (``token=``...) replaced."""
    return _QUERY_SECRET.sub(rf"\g<1>{REDACTED}", url)


def redact_value(value: Any) -> Any:
    """A copy of a decoded JSON value with every secret-named key's value replaced."""
    if isinstance(value, dict):
        return {
            key: REDACTED if str(key).lower() in SECRET_KEYS else redact_value(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact_value(item) for item in value]
    return value


def redact_body(body: bytes) -> str:
    """A short, printable form of a request or response body with secrets replaced."""
    if not body:
        return ""
    try:
        decoded = json.loads(body)
    except ValueError:
        return f"<{len(body)} bytes>"
    text = json.dumps(redact_value(decoded), ensure_ascii=False)
    return text if len(text) <= BODY_PREVIEW else text[:BODY_PREVIEW] + "…"
