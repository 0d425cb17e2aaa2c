"""The offline outbox: writes recorded durably before they are sent, replayed in order."""

from ..store import ConflictStrategy, Operation, OutboxOperation
from ._conflicts import (
    ConflictResolution,
    EntryResolver,
    OutboxConflictStrategy,
    client_wins,
    resolve_entry,
    server_wins,
)
from ._connectivity import Connectivity, probe_delay
from ._events import OutboxEvent, OutboxListener, SyncResult, default_outbox_path
from ._outbox import OfflineOutbox
from ._store import (
    OutboxCorruptError,
    OutboxEntry,
    OutboxError,
    OutboxStore,
    OutboxWriteError,
)

__all__ = [
    "ConflictResolution",
    "ConflictStrategy",
    "Connectivity",
    "EntryResolver",
    "OfflineOutbox",
    "Operation",
    "OutboxConflictStrategy",
    "OutboxCorruptError",
    "OutboxEntry",
    "OutboxError",
    "OutboxEvent",
    "OutboxListener",
    "OutboxOperation",
    "OutboxStore",
    "OutboxWriteError",
    "SyncResult",
    "client_wins",
    "default_outbox_path",
    "probe_delay",
    "resolve_entry",
    "server_wins",
]
