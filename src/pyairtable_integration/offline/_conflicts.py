"""What to do when a replayed write meets a conflict (409): drop it, or send it anew.

Strategies are plain functions of the entry and the ``ConflictError`` (whose ``current`` is the
record as the backend holds it now); they may also be coroutines, to ask a person.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .._errors import ConflictError
from ._store import OutboxEntry


@dataclass(frozen=True)
class ConflictResolution:
    """``drop``: forget the write (the server's state stands); ``resend``: send ``arguments``
    instead (with a new ``Idempotency-Key``), e.g. with ``expected_version`` moved on."""

    action: Literal["drop", "resend"]
    arguments: Mapping[str, Any] | None = None

    @classmethod
    def drop(cls) -> ConflictResolution:
        """Forget the write; the server's state stands."""
        return cls("drop")

    @classmethod
    def resend(cls, arguments: Mapping[str, Any]) -> ConflictResolution:
        """Send ``arguments`` in place of the entry's."""
        return cls("resend", dict(arguments))


ConflictStrategy = Callable[
    [OutboxEntry, ConflictError], ConflictResolution | Awaitable[ConflictResolution]
]


def server_wins(entry: OutboxEntry, error: ConflictError) -> ConflictResolution:
    """Drop the conflicting write: the change someone else made stands (the default)."""
    return ConflictResolution.drop()


def client_wins(entry: OutboxEntry, error: ConflictError) -> ConflictResolution:
    """Send the write again against the record's current version, overwriting the other
    change; dropped when the conflict does not say what the current version is."""
    current = error.current
    version = None if current is None else current.get("version")
    if not isinstance(version, int) or "expected_version" not in entry.arguments:
        return ConflictResolution.drop()
    return ConflictResolution.resend({**entry.arguments, "expected_version": version})
