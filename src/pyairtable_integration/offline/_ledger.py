"""The outbox's entry bookkeeping: what is unsent, recorded, shown, and told to listeners.

``OutboxLedger`` holds the outbox's state (the file, the unsent entries in memory, the optimistic
display, the listeners) and the steps that keep them in agreement: recording an entry (durably,
shown first when the display is on), forgetting a settled one, announcing each change, and
showing the signed-in user's unsent entries. The replay (``_replay``) and the public facade
(``_outbox``) build on it; it sends nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Mapping
from typing import Any

from .._clock import Clock
from .._errors import (
    AuthenticationError,
    OfflineError,
    ServiceError,
)
from .._online import OnlineStatus
from .._subscribable import Listeners
from ..auth import AuthManager, SessionEvent
from ..store import (
    MutationCache,
    Operation,
    OutboxEntry,
    OutboxStore,
    check_arguments,
)
from ._display import OutboxDisplay
from ._events import EventKind, OutboxEvent


class OutboxLedger:
    """The outbox's state and its bookkeeping (the attributes are set by ``OfflineOutbox``)."""

    enabled: bool
    connectivity: OnlineStatus
    mutations: MutationCache
    _auth: AuthManager
    _clock: Clock
    _store: OutboxStore | None
    _unsent: dict[str, OutboxEntry]
    _listeners: Listeners[OutboxEvent]
    _wake: asyncio.Event
    _claimed: set[str]
    _display: OutboxDisplay | None
    _showing: asyncio.Lock
    _restack: asyncio.Event

    def pending(self) -> list[OutboxEntry]:
        """The signed-in user's unsent entries, in the order they will be sent."""
        user_id = self._user_id_or_none()
        return [entry for entry in self._unsent.values() if entry.user_id == user_id]

    @property
    def pending_count(self) -> int:
        """How many of the signed-in user's entries are unsent."""
        return len(self.pending())

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

    def _forget(self, entry: OutboxEntry) -> None:
        self._unsent.pop(entry.id, None)

    def _emit(self, kind: EventKind, entry: OutboxEntry, error: ServiceError | None = None) -> None:
        if kind != "queued":
            self.mutations.settle(entry.id)
        self._listeners.emit(OutboxEvent(kind, entry, self.pending_count, error))

    def _user_id_or_none(self) -> str | None:
        session = self._auth.session
        return None if session is None else session.user_id

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

    def _connectivity_changed(self, online: bool) -> None:
        if online:
            self._wake.set()
