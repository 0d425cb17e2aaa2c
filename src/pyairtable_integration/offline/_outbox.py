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
import dataclasses
import inspect
import logging
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, cast

from .._clock import Clock
from .._errors import (
    APIConnectionError,
    AuthenticationError,
    CircuitOpenError,
    ConflictError,
    OfflineError,
    ServiceError,
)
from .._online import OnlineStatus, probe_delay
from .._subscribable import Listeners
from ..auth import AuthManager, SessionEvent
from ..optimistic import OptimisticManager
from ..services import Services
from ..store import (
    MAX_CONFLICT_ROUNDS,
    OPERATIONS,
    ConflictStrategy,
    MutationCache,
    Operation,
    RecordMutation,
    check_arguments,
    parse_operation,
    send_operation,
)
from ._conflicts import (
    ConflictResolution,
    EntryResolver,
    OutboxConflictStrategy,
    is_entry_resolver,
    resolve_entry,
)
from ._display import OutboxDisplay
from ._events import EventKind, OutboxEvent, OutboxListener, Outcome, Sent, SyncResult
from ._handling import handling, retry_hint
from ._store import UNSENT, OutboxEntry, OutboxStore
from ._writes import RecordWrites

logger = logging.getLogger("pyairtable_integration.offline")


class OfflineOutbox(RecordWrites):
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

    def pending(self) -> list[OutboxEntry]:
        """The signed-in user's unsent entries, in the order they will be sent."""
        user_id = self._user_id_or_none()
        return [entry for entry in self._unsent.values() if entry.user_id == user_id]

    @property
    def pending_count(self) -> int:
        """How many of the signed-in user's entries are unsent."""
        return len(self.pending())

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

    def _offline(self, entry: OutboxEntry, cause: ServiceError | None) -> OfflineError:
        ahead = sum(1 for other in self.pending() if other.seq < entry.seq)
        reason = "" if cause is None else f" ({cause.type}: {cause.message})"
        error = OfflineError(
            f"The backend cannot be reached{reason}; the write is kept in the outbox as entry "
            f"{entry.id} and will be sent when it answers again"
            + (f", after {ahead} earlier writes." if ahead else "."),
            entry_id=entry.id,
            service="record",
        )
        error.__cause__ = cause
        return error

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

    async def _record(
        self,
        operation: Operation,
        arguments: Mapping[str, Any],
        update_id: str | None,
        *,
        claim: bool = False,
        key: str | None = None,
    ) -> OutboxEntry:
        if not self.enabled or self._store is None:
            raise RuntimeError(
                "Offline support is off (or the integration is not initialized): turn on "
                "features.enable_offline_support and call initialize() to use the outbox."
            )
        session = self._auth.session
        if session is None:
            raise AuthenticationError("Sign in first: outbox entries belong to a user.")
        check_arguments(operation, arguments)
        entry_id = "obx_" + uuid.uuid4().hex
        display = self._display
        if display is not None:
            # Earlier entries first: layers stack in the order their writes were made.
            await self._show_pending()
            arguments = display.with_table(operation, arguments)
            await display.show(entry_id, operation, arguments, update_id=update_id)
            update_id = display.link(entry_id) or update_id
        try:
            entry = await asyncio.to_thread(
                self._store.add,
                id=entry_id,
                user_id=session.user_id,
                operation=operation,
                arguments=arguments,
                idempotency_key=key or uuid.uuid4().hex,
                update_id=update_id,
                created_at=self._clock.now(),
            )
        except BaseException:
            if display is not None:
                display.hide([entry_id])  # not recorded, so not to be shown either
            raise
        if claim:
            # Before it is visible to a replay, so its outcome is kept for the waiting writer.
            self._claimed.add(entry.id)
        self._unsent[entry.id] = entry
        self._emit("queued", entry)
        return entry

    async def _drain(self, *, until: str | None = None) -> SyncResult:
        async with self._lock:
            sent = failed = dropped = 0
            stopped_by: ServiceError | None = None
            while self._store is not None and (until is None or until in self._unsent):
                queue = self.pending()
                if not queue:
                    break
                entry = queue[0]
                outcome = await self._send(entry, caller_waits=entry.id in self._claimed)
                if entry.id in self._claimed and outcome.kind != "kept":
                    self._outcomes[entry.id] = outcome.value
                if outcome.kind == "sent":
                    sent += 1
                elif outcome.kind == "failed":
                    failed += 1
                elif outcome.kind == "dropped":
                    dropped += 1
                else:
                    stopped_by = outcome.value if isinstance(outcome.value, ServiceError) else None
                    break
            return SyncResult(
                sent=sent,
                failed=failed,
                dropped=dropped,
                pending=self.pending_count,
                stopped_by=stopped_by,
            )

    async def _send(self, entry: OutboxEntry, *, caller_waits: bool) -> Outcome:
        store = self._store
        assert store is not None
        for _ in range(MAX_CONFLICT_ROUNDS + 1):
            await asyncio.to_thread(store.begin_send, entry.id)
            entry = dataclasses.replace(entry, state="sending", attempts=entry.attempts + 1)
            self._unsent[entry.id] = entry
            try:
                result = await send_operation(
                    self._services.record, entry.operation, entry.arguments, entry.idempotency_key
                )
            except ServiceError as exc:
                error = exc
            except BaseException:
                # Cancelled mid-send: the entry goes back to waiting, its key kept.
                await asyncio.shield(asyncio.to_thread(store.finish, entry.id, "pending"))
                raise
            else:
                # Recorded before it counts as done: a crash now leaves it "sending", and its
                # replay is answered from the backend's idempotency store.
                await asyncio.to_thread(store.finish, entry.id, "done", result=result)
                self._forget(entry)
                if self._display is not None:
                    self._display.confirm(entry, result)
                self.connectivity.set_online(True)
                self._emit("sent", dataclasses.replace(entry, state="done", result=result))
                return Outcome("sent", Sent(result))
            kind = handling(error, caller_waits=caller_waits)
            if kind == "keep":
                await asyncio.to_thread(store.finish, entry.id, "pending")
                self._unsent[entry.id] = dataclasses.replace(entry, state="pending")
                if isinstance(error, APIConnectionError) and not isinstance(
                    error, CircuitOpenError
                ):
                    self.connectivity.set_online(False)
                return Outcome("kept", error)
            if kind == "fail":
                return await self._fail(entry, "failed", error)
            assert isinstance(error, ConflictError)
            try:
                resolution = await self._resolve(entry, error)
            except BaseException:
                await asyncio.shield(asyncio.to_thread(store.finish, entry.id, "pending"))
                raise
            if resolution.action == "drop" or resolution.arguments is None:
                return await self._fail(entry, "dropped", error)
            check_arguments(entry.operation, resolution.arguments)
            key = uuid.uuid4().hex
            await asyncio.to_thread(
                store.rewrite, entry.id, arguments=resolution.arguments, idempotency_key=key
            )
            entry = dataclasses.replace(
                entry, arguments=dict(resolution.arguments), idempotency_key=key, state="pending"
            )
            self._unsent[entry.id] = entry
            if self._display is not None:
                self._display.restate(
                    entry, resolution.arguments, error, decided_by=self._strategy_name()
                )
        return await self._fail(entry, "failed", error)

    async def _fail(
        self, entry: OutboxEntry, kind: Literal["failed", "dropped"], error: ServiceError
    ) -> Outcome:
        assert self._store is not None
        reason = f"{'dropped on ' if kind == 'dropped' else ''}{error.type}: {error.message}"
        await asyncio.to_thread(self._store.finish, entry.id, "failed", error=reason)
        self._forget(entry)
        if self._display is not None:
            decided_by = self._strategy_name() if kind == "dropped" else "refused"
            self._display.reject(entry, error, decided_by=decided_by)
        self._emit(kind, dataclasses.replace(entry, state="failed", error=reason), error)
        return Outcome(kind, error)

    async def _resolve(self, entry: OutboxEntry, error: ConflictError) -> ConflictResolution:
        strategy = self.on_conflict
        if not is_entry_resolver(strategy):
            return resolve_entry(cast(ConflictStrategy, strategy), entry, error)
        decided = cast(EntryResolver, strategy)(entry, error)
        if inspect.isawaitable(decided):
            decided = await decided
        return decided

    async def _flush_forever(self) -> None:
        failures = 0
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.connectivity.wait_online()
            try:
                result = await self._drain()
            except Exception as exc:
                # An outcome that could not be recorded, or a conflict strategy that failed: the
                # entry stays unsent and is tried at the next wake-up, not in a tight loop.
                self.last_error = exc
                self._report(exc, "offline outbox replay")
                continue
            if result.stopped_by is None:
                failures = 0
                continue
            failures += 1
            self._wake.set()
            await self._clock.sleep(max(probe_delay(failures), retry_hint(result.stopped_by)))

    async def _show_forever(self) -> None:
        while True:
            await self._restack.wait()
            try:
                await self._show_pending()
            except Exception as exc:
                # The link could not be recorded; the layers are shown and it is tried again.
                self.last_error = exc
                self._report(exc, "offline outbox display")

    async def _show_pending(self) -> None:
        """Apply the layers of the signed-in user's unsent entries that have none yet."""
        self._restack.clear()
        display, store = self._display, self._store
        if display is None or store is None:
            return
        async with self._showing:
            for entry in self.pending():
                if display.shown(entry.id):
                    continue
                await display.show(
                    entry.id, entry.operation, entry.arguments, update_id=entry.update_id
                )
                linked = display.link(entry.id)
                if linked is not None and linked != entry.update_id:
                    # Kept in the file too, so ``entries()`` names the layer shown now.
                    await asyncio.to_thread(store.link, entry.id, linked)
                    if entry.id in self._unsent:
                        self._unsent[entry.id] = dataclasses.replace(
                            self._unsent[entry.id], update_id=linked
                        )

    def _session_changed(self, event: SessionEvent) -> None:
        self._wake.set()
        if self._display is not None:
            # Another user (or none) now: the previous user's pending writes leave the view at
            # once; the new user's are shown by ``_show_forever`` (or the next outbox call).
            user_id = None if event.session is None else event.session.user_id
            self._display.hide(
                entry_id
                for entry_id in self._display.entries()
                if entry_id not in self._unsent or self._unsent[entry_id].user_id != user_id
            )
            self._restack.set()

    def _strategy_name(self) -> str:
        strategy = self.on_conflict
        return strategy if isinstance(strategy, str) else getattr(strategy, "__name__", "custom")

    def _connectivity_changed(self, online: bool) -> None:
        if online:
            self._wake.set()

    def _forget(self, entry: OutboxEntry) -> None:
        self._unsent.pop(entry.id, None)

    def _report(self, error: Exception, where: str) -> None:
        if self.report_failure is None:
            logger.error("%s failed: %r", where, error, exc_info=error)
        else:
            self.report_failure(error, where)

    def _user_id_or_none(self) -> str | None:
        session = self._auth.session
        return None if session is None else session.user_id

    def _emit(self, kind: EventKind, entry: OutboxEntry, error: ServiceError | None = None) -> None:
        if kind != "queued":
            self.mutations.settle(entry.id)
        self._listeners.emit(OutboxEvent(kind, entry, self.pending_count, error))
