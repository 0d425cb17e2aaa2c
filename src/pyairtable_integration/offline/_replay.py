"""The outbox's replay: unsent entries sent one at a time, in order, and how each ended.

``_drain`` sends the signed-in user's entries oldest first until done or a send gets no answer;
``_send`` makes one entry's attempts (marked ``sending`` on disk first, its stored key on every
attempt), decides by ``_handling`` whether a failure keeps, fails or (a 409) resolves the entry by
the conflict strategy, and records the outcome before it counts. ``_flush_forever`` is the
background loop that drains whenever there is work and the backend answers, backing off after a
send without an answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import uuid
from collections.abc import Callable
from typing import Literal, cast

from .._errors import (
    APIConnectionError,
    CircuitOpenError,
    ConflictError,
    ServiceError,
)
from .._online import probe_delay
from ..services import Services
from ..store import (
    MAX_CONFLICT_ROUNDS,
    ConflictStrategy,
    OutboxEntry,
    check_arguments,
    send_operation,
)
from ._conflicts import (
    ConflictResolution,
    EntryResolver,
    OutboxConflictStrategy,
    is_entry_resolver,
    resolve_entry,
)
from ._events import Outcome, Sent, SyncResult
from ._handling import handling, retry_hint
from ._ledger import OutboxLedger

logger = logging.getLogger("pyairtable_integration.offline")


class OutboxReplay(OutboxLedger):
    """Sending the ledger's unsent entries in order (attributes set by ``OfflineOutbox``)."""

    on_conflict: OutboxConflictStrategy
    last_error: BaseException | None
    report_failure: Callable[[Exception, str], None] | None
    _services: Services
    _lock: asyncio.Lock
    _outcomes: dict[str, Sent | ServiceError]

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

    def _strategy_name(self) -> str:
        strategy = self.on_conflict
        return strategy if isinstance(strategy, str) else getattr(strategy, "__name__", "custom")

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

    def _report(self, error: Exception, where: str) -> None:
        if self.report_failure is None:
            logger.error("%s failed: %r", where, error, exc_info=error)
        else:
            self.report_failure(error, where)
