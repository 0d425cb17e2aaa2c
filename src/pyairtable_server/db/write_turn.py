"""The write turn: on SQLite, one write transaction of this process at a time, in arrival order.

SQLite lets one writer hold the database from ``BEGIN IMMEDIATE`` to ``COMMIT``. Writers left to
SQLite's busy handler poll with growing sleeps, so an unlucky one waits seconds; waiting on a
fair in-process queue serves them in arrival order instead. The turn covers a session's
*transaction* only, not the request around it: slow work done between transactions (hashing a
password, calling a webhook receiver) holds no one up.

``TurnSession`` takes the turn before the first statement of each transaction it runs and gives
it back when that transaction commits or rolls back, or the session closes. A statement reached
by some other path (a lazy load) runs without the turn: still correct, SQLite's busy handler
then orders it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar, cast

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


class WriteTurn:
    """A FIFO turn. A semaphore, not a lock: the task that gives the turn back need not be the
    one that took it (a session may be closed by the code that opened it for another task)."""

    def __init__(self) -> None:
        self._slot = anyio.Semaphore(1)

    async def take(self) -> None:
        await self._slot.acquire()

    def give_back(self) -> None:
        self._slot.release()

    @property
    def free(self) -> bool:
        return self._slot.value == 1


def _in_turn(method: F) -> F:
    """Run ``method`` holding the session's turn, taking it if no transaction holds it yet."""

    @wraps(method)
    async def run(self: TurnSession, *args: Any, **kwargs: Any) -> Any:
        await self.take_turn()
        return await method(self, *args, **kwargs)

    return cast(F, run)


def _ending_turn(method: F) -> F:
    """Run ``method`` (which ends the transaction), then give the turn back, whatever happens."""

    @wraps(method)
    async def run(self: TurnSession, *args: Any, **kwargs: Any) -> Any:
        try:
            return await method(self, *args, **kwargs)
        finally:
            self.give_turn_back()

    return cast(F, run)


class TurnSession(AsyncSession):
    """An ``AsyncSession`` whose transactions each hold ``turn`` (none: no turn is taken)."""

    def __init__(self, *args: Any, turn: WriteTurn | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._turn = turn
        self._holding = False

    async def take_turn(self) -> None:
        """Hold the turn until this transaction ends (no-op if held or there is no turn)."""
        if self._turn is None or self._holding:
            return
        await self._turn.take()
        self._holding = True

    def give_turn_back(self) -> None:
        if self._holding:
            self._holding = False
            assert self._turn is not None
            self._turn.give_back()

    # What may run a statement, and so begin a transaction (a commit flushes pending rows).
    execute = _in_turn(AsyncSession.execute)
    scalar = _in_turn(AsyncSession.scalar)  # type: ignore[assignment,arg-type]
    scalars = _in_turn(AsyncSession.scalars)
    get = _in_turn(AsyncSession.get)
    get_one = _in_turn(AsyncSession.get_one)
    stream = _in_turn(AsyncSession.stream)
    stream_scalars = _in_turn(AsyncSession.stream_scalars)
    flush = _in_turn(AsyncSession.flush)
    merge = _in_turn(AsyncSession.merge)
    refresh = _in_turn(AsyncSession.refresh)
    delete = _in_turn(AsyncSession.delete)
    connection = _in_turn(AsyncSession.connection)
    run_sync = _in_turn(AsyncSession.run_sync)
    # What ends it.
    rollback = _ending_turn(AsyncSession.rollback)
    close = _ending_turn(AsyncSession.close)
    invalidate = _ending_turn(AsyncSession.invalidate)

    async def commit(self) -> None:
        if self.new or self.dirty or self.deleted:  # flushed first: a statement
            await self.take_turn()
        try:
            await super().commit()
        finally:
            self.give_turn_back()
