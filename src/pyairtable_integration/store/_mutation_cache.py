"""The mutation cache: every record write under way, and the paused ones (TanStack's
``MutationCache``, with its queue per scope made a queue per record).

A write takes its ``turn`` before it is sent. An ``ordered`` write waits until every write of
the same records that started before it has ended, so it is sent after their answers, against
the versions they produced, instead of meeting them as conflicts; other writes go at once
(overlapping optimistic edits of one record meet as conflicts, which their strategy resolves).
A write that is not durable and starts while the backend is believed unreachable
(``OnlineStatus``) is *paused*: it waits in its turn and resumes by itself when the backend
answers again. A durable write is recorded first and is never held back for the network; when
it could not be sent it stays paused in the outbox (``pause``) until the outbox reports it
settled, and the outbox's replay, reading the same ``OnlineStatus``, resumes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

from .._online import OnlineStatus
from .._subscribable import Listeners
from ._mutation import RecordMutation

MutationEventKind = Literal["started", "paused", "resumed", "finished", "settled"]


@dataclass(frozen=True)
class MutationEvent:
    """A write ``started`` its turn, was ``paused`` (offline, or kept in the outbox as
    ``entry_id``), ``resumed``, ``finished`` its turn, or was ``settled`` by the outbox."""

    kind: MutationEventKind
    mutation: RecordMutation
    entry_id: str | None = None


class MutationCache:
    """The writes under way and the paused ones (see the module docstring)."""

    def __init__(self, online: OnlineStatus) -> None:
        self._online = online
        # Per record: the ends of the writes of it under way.
        self._inflight: dict[str, set[asyncio.Event]] = {}
        self._running: list[RecordMutation] = []
        self._paused: dict[str, RecordMutation] = {}
        self._listeners: Listeners[MutationEvent] = Listeners("mutation cache")

    def __repr__(self) -> str:
        return f"MutationCache(running={len(self._running)}, paused={len(self._paused)})"

    def subscribe(self, listener: Callable[[MutationEvent], object]) -> Callable[[], None]:
        """Call ``listener(event)`` for every write's progress; returns a function to stop."""
        return self._listeners.subscribe(listener)

    def running(self) -> list[RecordMutation]:
        """The writes that hold or wait for their turn, oldest first."""
        return list(self._running)

    def paused(self) -> dict[str, RecordMutation]:
        """The durable writes kept in the outbox, by entry id."""
        return dict(self._paused)

    @asynccontextmanager
    async def turn(self, mutation: RecordMutation) -> AsyncIterator[bool]:
        """Wait (an ``ordered`` write) until every earlier write of ``mutation``'s records has
        ended, and (a write that is not durable) until the backend is believed reachable; then
        hold the turn until the block ends. Yields whether it waited for an earlier write (then
        the records' versions may have moved on since the write was made)."""
        done = asyncio.Event()
        before: set[asyncio.Event] = set()
        for record in mutation.records:
            ends = self._inflight.setdefault(record, set())
            if mutation.ordered:
                before |= ends
            ends.add(done)
        self._running.append(mutation)
        self._listeners.emit(MutationEvent("started", mutation))
        try:
            for earlier in before:
                await earlier.wait()
            if not mutation.durable and not self._online.online:
                self._listeners.emit(MutationEvent("paused", mutation))
                await self._online.wait_online()
                self._listeners.emit(MutationEvent("resumed", mutation))
            yield bool(before)
        finally:
            done.set()
            for record in mutation.records:
                left = self._inflight.get(record, set())
                left.discard(done)
                if not left:
                    self._inflight.pop(record, None)
            self._running.remove(mutation)
            self._listeners.emit(MutationEvent("finished", mutation))

    def pause(self, mutation: RecordMutation, entry_id: str) -> None:
        """A durable write could not be sent: it waits in the outbox as ``entry_id``."""
        self._paused[entry_id] = mutation
        self._listeners.emit(MutationEvent("paused", mutation, entry_id))

    def settle(self, entry_id: str) -> None:
        """The outbox sent, failed or dropped entry ``entry_id``: its write is no longer paused."""
        mutation = self._paused.pop(entry_id, None)
        if mutation is not None:
            self._listeners.emit(MutationEvent("settled", mutation, entry_id))
