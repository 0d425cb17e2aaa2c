"""The offline outbox: writes recorded on disk before they are sent, replayed in order.

A write made through ``pa.offline`` (``create_record``, ``update_record``...) is first recorded
in the outbox file with its own ``Idempotency-Key``, then sent, together with any earlier writes
still waiting, strictly in the order they were recorded. When the backend cannot be reached (no
answer, an open breaker, or 503) the write stays recorded and the caller gets ``OfflineError``
whose ``entry_id`` names it; it is sent in the background once the backend answers again (a
health probe, or ``connectivity.set_online(True)`` from the realtime connection), or on
``sync()``. Every attempt carries the stored key, so a write that reached the backend before the
process died is answered from the backend's idempotency store and applied once. (The backend
keeps those answers for 24 hours: an entry left half-sent for longer may be applied twice.)

The outbox keeps the unsent entries in memory too (``pending()`` reads no file): one process at a
time should use one outbox file.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

from .._clock import Clock
from .._errors import (
    APIConnectionError,
    CircuitOpenError,
    OfflineError,
    ServiceError,
)
from .._online import OnlineStatus
from .._subscribable import Listeners
from ..auth import AuthManager
from ..optimistic import OptimisticManager
from ..services import Services
from ..store import (
    OPERATIONS,
    UNSENT,
    MutationCache,
    Operation,
    OutboxEntry,
    OutboxStore,
    RecordMutation,
    parse_operation,
    send_operation,
)
from ._conflicts import (
    OutboxConflictStrategy,
)
from ._display import OutboxDisplay
from ._events import OutboxEvent, OutboxListener, Sent, SyncResult
from ._replay import OutboxReplay
from ._writes import RecordWrites


class OfflineOutbox(OutboxReplay, RecordWrites):
    """``pa.offline``: writes that survive the network and the process going away.

    With offline support off (``features.enable_offline_support`` and ``enable_offline_queue``
    both false) the write methods send directly, nothing is recorded, and ``enqueue`` refuses.
    """

    def __init__(
        self,
        *,
        services: Services,
        auth: AuthManager,
        clock: Clock,
        path: Path,
        enabled: bool,
        max_bytes: int | None = None,
        on_conflict: OutboxConflictStrategy = "server_wins",
        online: OnlineStatus | None = None,
        mutations: MutationCache | None = None,
    ) -> None:
        self.path = path
        self.enabled = enabled
        #: Decides what a 409 on replay does (``_conflicts``): the one ``ConflictStrategy``
        #: (``"server_wins"``, drop, unless replaced) or an ``(entry, error)`` hook.
        self.on_conflict: OutboxConflictStrategy = on_conflict
        #: Whether the backend answers: the integration's one ``OnlineStatus`` (whose probe
        #: runs in its task group), or one of the outbox's own (probed by ``run``).
        self.connectivity = online or OnlineStatus(services.health.get_health, clock=clock)
        self._probes_itself = online is None
        #: Where each write takes its turn among the writes of its records (``pa.mutate``'s
        #: too), and where a write kept for later is known as paused.
        self.mutations = mutations or MutationCache(self.connectivity)
        self._services = services
        self._auth = auth
        self._clock = clock
        self._max_bytes = max_bytes
        self._store: OutboxStore | None = None
        self._unsent: dict[str, OutboxEntry] = {}
        self._listeners: Listeners[OutboxEvent] = Listeners("outbox")
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        # Entries a writer waits for, and their outcomes once a replay (any) has sent them.
        self._claimed: set[str] = set()
        self._outcomes: dict[str, Sent | ServiceError] = {}
        #: The last error that stopped the background replay (it goes on at the next wake-up).
        self.last_error: BaseException | None = None
        #: Told of every failure of the background replay (the integration's ``Background``
        #: reports it to ``pa.on_background_error`` and raises it from ``aclose``).
        self.report_failure: Callable[[Exception, str], None] | None = None
        # Optimistic layers of the unsent entries (None: writes are not shown before sent).
        self._display: OutboxDisplay | None = None
        self._showing = asyncio.Lock()
        self._restack = asyncio.Event()
        self.connectivity.on_change(self._connectivity_changed)
        auth.on_session_change(self._session_changed)

    def __repr__(self) -> str:
        return f"OfflineOutbox(path={str(self.path)!r}, enabled={self.enabled})"

    async def open(self) -> None:
        """Open the outbox file (when enabled) and load its unsent entries.

        Raises:
            OutboxCorruptError: the file is not a readable outbox.
            OutboxError: the file cannot be created or opened.
        """
        if not self.enabled or self._store is not None:
            return
        store = await asyncio.to_thread(OutboxStore, self.path, max_bytes=self._max_bytes)
        entries = await asyncio.to_thread(store.entries, states=UNSENT)
        self._store = store
        self._unsent = {entry.id: entry for entry in entries}
        # After a restart the UI shows the writes still waiting, as it did before.
        await self._show_pending()
        if self._unsent:
            self._wake.set()

    async def close(self) -> None:
        """Close the outbox file; safe to call twice (the background work is cancelled first)."""
        store, self._store = self._store, None
        if store is not None:
            await asyncio.to_thread(store.close)

    async def run(self) -> None:
        """Probe connectivity while offline and replay unsent entries whenever there is work
        and the backend is reachable, until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            if self._probes_itself:
                tasks.create_task(self.connectivity.run())
            tasks.create_task(self._flush_forever())
            tasks.create_task(self._show_forever())

    def use_optimistic(self, manager: OptimisticManager | None) -> None:
        """Show every write recorded from now on, and the unsent ones, in ``manager``'s overlay
        (the record cache) until it is sent; None stops showing them (their layers go).

        Each entry's ``update_id`` names its layer (for a write of one record): confirmed with
        the backend's answer when the entry is sent, rolled back when it fails, and replaced by
        the server's record when a conflict drops it. Layers are applied again when the outbox
        opens and when their user signs in.
        """
        if self._display is not None:
            if manager is self._display.manager:
                return
            self._display.hide(self._display.entries())
        self._display = None if manager is None else OutboxDisplay(manager)
        self._restack.set()

    def on_change(self, listener: OutboxListener) -> Callable[[], None]:
        """Call ``listener(event)`` on every queued, sent, failed or dropped entry (with the
        pending count); returns a function that stops it."""
        return self._listeners.subscribe(listener)

    async def entries(self) -> list[OutboxEntry]:
        """Every entry of the signed-in user still in the file (sent and failed ones too).

        Raises:
            OutboxError: the file cannot be read.
        """
        user_id = self._user_id_or_none()
        if self._store is None or user_id is None:
            return []
        return await asyncio.to_thread(self._store.entries, user_id)

    async def prune(self) -> int:
        """Delete the signed-in user's sent and failed entries from the file; how many went.

        Raises:
            OutboxWriteError: the file could not be written.
        """
        user_id = self._user_id_or_none()
        if self._store is None or user_id is None:
            return 0
        return await asyncio.to_thread(self._store.prune, user_id)

    async def enqueue(
        self,
        operation: Operation,
        arguments: Mapping[str, Any],
        *,
        update_id: str | None = None,
    ) -> OutboxEntry:
        """Record a write to be sent in the background, without trying to send it now.

        ``arguments`` are the keyword arguments of the record service method ``operation``
        names (``{"table_id", "fields"}`` for ``create_record``...); ``update_id`` links the entry
        to an optimistic update.

        Raises:
            RuntimeError: offline support is off.
            AuthenticationError: nobody is signed in (entries belong to a user).
            ValueError: an unknown operation or wrong arguments.
            OutboxWriteError: the entry could not be recorded (nothing was sent either).
        """
        entry = await self._record(operation, arguments, update_id)
        self._wake.set()
        return entry

    async def sync(self) -> SyncResult:
        """Send the signed-in user's unsent entries now, in order, until done or a send fails
        for want of an answer (then the rest waits).

        Raises:
            OutboxWriteError: an outcome could not be recorded.
            Exception: whatever the conflict strategy raised (the entry stays unsent).
        """
        await self._show_pending()
        return await self._drain()

    async def _write(
        self, operation: Operation, arguments: Mapping[str, Any], update_id: str | None
    ) -> Any:
        mutation = RecordMutation(
            parse_operation(operation, arguments),
            optimistic=self.enabled and self._display is not None,
            durable=self.enabled,
            ordered=True,
        )
        if not self.enabled:
            async with self.mutations.turn(mutation):
                # Nothing recorded: one fresh key still makes the transport's retries safe.
                return await send_operation(
                    self._services.record, operation, arguments, uuid.uuid4().hex
                )
        entry = await self._record(operation, arguments, update_id, claim=True)
        try:
            if not self.connectivity.online:
                # Offline means paused: the write waits for the probe instead of failing slowly.
                self._wake.set()
                self.mutations.pause(mutation, entry.id)
                raise self._offline(entry, None)
            async with self.mutations.turn(mutation):
                result = await self._drain(until=entry.id)
            outcome = self._outcomes.pop(entry.id, None)
        finally:
            self._claimed.discard(entry.id)
            self._outcomes.pop(entry.id, None)
        if self._unsent:
            self._wake.set()
        if isinstance(outcome, Sent):
            return outcome.result
        if isinstance(outcome, ServiceError):
            raise outcome
        # Not reached, or kept after a send without an answer: it waits in the outbox.
        self.mutations.pause(mutation, entry.id)
        raise self._offline(entry, result.stopped_by)

    async def park(
        self,
        operation: str,
        arguments: Mapping[str, Any],
        idempotency_key: str,
        cause: APIConnectionError,
    ) -> OfflineError | None:
        """Keep a write ``pa.services.record`` sent without getting an answer; its error.

        The entry keeps the key the write was sent with, so if the backend did apply it, the
        replay is answered from its idempotency store instead of applying it twice. None when
        the outbox is off or nobody is signed in (the caller's failure stands).

        Raises:
            OutboxWriteError: the write could not be recorded.
        """
        if not self.enabled or self._store is None or self._auth.session is None:
            return None
        if operation not in OPERATIONS:
            return None
        entry = await self._record(cast(Operation, operation), arguments, None, key=idempotency_key)
        if not isinstance(cause, CircuitOpenError):
            self.connectivity.set_online(False)
        self._wake.set()
        return self._offline(entry, cause)
