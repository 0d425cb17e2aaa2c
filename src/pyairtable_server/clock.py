"""The server's notion of now, in one place so tests and code agree on UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def rfc3339(value: datetime) -> str:
    """Format an aware datetime as RFC 3339 UTC with a ``Z`` suffix (contract §2)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
