"""What the outbox tells: its events and the result of a replay; and where its file lives."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .._errors import ServiceError
from ._store import OutboxEntry

EventKind = Literal["queued", "sent", "failed", "dropped"]


def default_outbox_path(environ: Mapping[str, str]) -> Path:
    """``$XDG_DATA_HOME/pyairtable-integration/outbox.sqlite3``, or under ``~/.local/share``."""
    data_home = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "pyairtable-integration" / "outbox.sqlite3"


@dataclass(frozen=True)
class OutboxEvent:
    """A change of the outbox: an entry ``queued``, ``sent``, ``failed`` or ``dropped`` on
    conflict, with the current user's number of unsent entries after it."""

    kind: EventKind
    entry: OutboxEntry
    pending: int
    error: ServiceError | None = None


@dataclass(frozen=True)
class SyncResult:
    """What one replay did; ``stopped_by`` is why it ended with entries still unsent."""

    sent: int
    failed: int
    dropped: int
    pending: int
    stopped_by: ServiceError | None = None


OutboxListener = Callable[[OutboxEvent], None]


@dataclass(frozen=True)
class Sent:
    result: Any


@dataclass(frozen=True)
class Outcome:
    kind: Literal["sent", "failed", "dropped", "kept"]
    value: Sent | ServiceError
