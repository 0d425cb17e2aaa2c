"""The offline outbox: writes recorded durably before they are sent, replayed in order."""

from ._conflicts import ConflictResolution, ConflictStrategy, client_wins, server_wins
from ._connectivity import Connectivity, probe_delay
from ._operations import Operation, OutboxOperation
from ._outbox import (
    OfflineOutbox,
    OutboxEvent,
    OutboxListener,
    SyncResult,
    default_outbox_path,
)
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
    "OfflineOutbox",
    "Operation",
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
    "server_wins",
]
