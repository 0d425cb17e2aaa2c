"""A live query: data that observers subscribe to, fetched once, kept fresh while observed.

The entity of TanStack Query's query-core split: one ``LiveQuery`` per key (shared through the
``QueryCache``), any number of observers (plain callables). The first observer attaches the
query to its sources (the record cache's change notifications, realtime events) and fetches
unless the cache already holds the data; the last one detaches it again, after ``gc_time``.
Where the data comes from is a ``QuerySource``; this module only sequences fetches and states.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Hashable
from dataclasses import dataclass, replace
from typing import Any, Generic, Literal, Protocol, TypeVar

from .._clock import Clock
from .._errors import ServiceError
from .._subscribable import Listeners
from ._connection import LiveConnection
from ._state import (
    Change,
    Fail,
    Fetch,
    Fresh,
    Idle,
    Invalidate,
    Pause,
    QueryAction,
    QueryState,
    Resolve,
    reduce_query,
)

T = TypeVar("T")
logger = logging.getLogger("pyairtable_integration.live")
QueryKey = tuple[Hashable, ...]
QueryListener = Callable[[QueryState[T]], None]
Signal = Literal["changed", "invalid"]
Spawn = Callable[[Coroutine[Any, Any, None], str], "asyncio.Task[None]"]


@dataclass(frozen=True)
class Snapshot(Generic[T]):
    """The data as the user should see it now, and whether it shows unconfirmed writes."""

    data: T
    is_optimistic: bool = False


class QuerySource(Protocol[T]):
    """Where a query's data comes from and what tells it the data changed."""

    #: Seconds the fetched data counts as fresh.
    stale_time: float

    async def fetch(self, *, force: bool) -> Snapshot[T]:
        """The data through the services (``force``: not from the cache).

        Raises:
            ServiceError: the fetch failed.
        """
        ...

    def peek(self) -> Snapshot[T] | None:
        """The data as the cache holds it now, or None when the cache does not hold it."""
        ...

    def watch(self, notify: Callable[[Signal], None]) -> Callable[[], None]:
        """Start calling ``notify`` on changes (``changed``: peek again; ``invalid``: fetch
        again); returns the function that stops every listener and subscription it made."""
        ...


class LiveQuery(Generic[T]):
    """Observable data of one query (``pa.live.records(...)``, ``pa.live.workspaces()``...).

    ``subscribe(listener)`` calls ``listener(state)`` on every change of ``state`` and returns
    the function that unsubscribes; ``await refetch()`` fetches from the network now.
    """

    def __init__(
        self,
        key: QueryKey,
        source: QuerySource[T],
        *,
        clock: Clock,
        connection: LiveConnection,
        spawn: Spawn,
        attached: Callable[[LiveQuery[Any]], None],
        released: Callable[[LiveQuery[Any]], None],
        gc_time: float = 0.0,
    ) -> None:
        self.key = key
        self.gc_time = gc_time
        self._source = source
        self._clock = clock
        self._connection = connection
        self._spawn = spawn
        self._attached = attached
        self._released = released
        self._state: QueryState[T] = QueryState()
        self._observers: Listeners[QueryState[T]] = Listeners("live query observer")
        self._detach: Callable[[], None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._fresh_until: float | None = None
        self._gc: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"LiveQuery(key={self.key!r}, observers={len(self._observers)})"

    @property
    def state(self) -> QueryState[T]:
        """The query now; ``is_stale`` is worked out at the moment it is read."""
        if not self._state.is_stale and self._expired():
            return replace(self._state, is_stale=True)
        return self._state

    @property
    def observer_count(self) -> int:
        """How many observers are subscribed."""
        return len(self._observers)

    @property
    def attached(self) -> bool:
        """Whether it listens to its sources (it has observers, or its gc delay runs)."""
        return self._detach is not None

    def subscribe(self, listener: QueryListener[T]) -> Callable[[], None]:
        """Call ``listener(state)`` on every change; returns the function that unsubscribes.

        The first observer attaches the query and fetches unless the cache holds the data; a
        later one refetches only when the data is stale. Unsubscribing twice is harmless.
        """
        stop = self._observers.subscribe(listener)
        if self._gc is not None:
            self._gc.cancel()
            self._gc = None
        if self._detach is None:
            self._detach = self._source.watch(self._signal)
            self._attached(self)
            self._mount()
        elif self._is_stale() and self._task is None:
            self._start(force=True, automatic=True)

        subscribed = True

        def unsubscribe() -> None:
            nonlocal subscribed
            if subscribed:
                subscribed = False
                stop()
                if not self._observers:
                    self._schedule_release()

        return unsubscribe

    async def refetch(self) -> QueryState[T]:
        """Fetch from the network now (joining a fetch under way); the state after it.

        A failure is not raised: it is in the state (``error``, or ``paused`` without answer).
        """
        task = self._task or self._start(force=True, automatic=False)
        if task is not None:
            # wait() rather than await: a fetch cancelled by a release is no error of the caller.
            await asyncio.wait([task])
        return self.state

    def release(self) -> None:
        """Stop listening to the sources and cancel a fetch under way (the last observer left)."""
        if self._gc is not None:
            self._gc.cancel()
            self._gc = None
        if self._observers:
            return
        detach, self._detach = self._detach, None
        if detach is not None:
            detach()
        if self._task is not None:
            self._task.cancel()
            self._task = None
            self._dispatch(Idle())
        self._released(self)

    def close(self) -> None:
        """Drop every observer and release at once (the integration is closing)."""
        self._observers.clear()
        self.release()

    # -- internals ---------------------------------------------------------------------------

    def _schedule_release(self) -> None:
        if self.gc_time <= 0:
            self.release()
            return
        loop = asyncio.get_running_loop()
        self._gc = loop.call_later(self.gc_time, self.release)

    def _mount(self) -> None:
        snapshot = self._source.peek()
        if snapshot is not None:
            self._dispatch(Change(snapshot.data, snapshot.is_optimistic, self._clock.now()))
            if self._fresh_until is None:
                # The cache serves only what is within its own lifetime.
                self._mark_fresh()
            if not self._expired():
                self._dispatch(Fresh())
                return
        self._start(force=snapshot is not None, automatic=True)

    def _signal(self, signal: Signal) -> None:
        if not self._observers and self._gc is None:
            return
        if signal == "changed":
            snapshot = self._source.peek()
            if snapshot is not None:
                self._dispatch(Change(snapshot.data, snapshot.is_optimistic, self._clock.now()))
                return
            if self._task is not None:
                return  # the fetch under way brings the data back into the cache
        # The cache no longer holds the data (dropped, reset) or it is known outdated.
        self._dispatch(Invalidate())
        if self._task is None:
            self._start(force=True, automatic=True)

    def _start(self, *, force: bool, automatic: bool) -> asyncio.Task[None] | None:
        if self._task is not None:
            return self._task
        if self._expired():
            self._dispatch(Invalidate())  # observers see the old data marked stale meanwhile
        if automatic and not self._connection.online:
            self._dispatch(Pause())
            return None
        self._dispatch(Fetch())
        task = self._spawn(self._fetch(force), f"pa-live:{self.key[0]}")
        self._task = task
        return task

    async def _fetch(self, force: bool) -> None:
        try:
            snapshot = await self._source.fetch(force=force)
        except ServiceError as error:
            self._task = None
            self._dispatch(Fail(error))
            if self._state.is_paused:
                self._connection.report_unreachable()
            return
        except BaseException:
            self._task = None
            raise
        self._task = None
        self._mark_fresh()
        # The cache may have changed while the answer travelled: its view wins when it has one.
        latest = self._source.peek() or snapshot
        self._dispatch(Resolve(latest.data, latest.is_optimistic, self._clock.now()))

    def resume(self) -> None:
        """Fetch again if paused or stale (the backend became reachable)."""
        if self._detach is None or self._task is not None:
            return
        if self._state.is_paused or self._is_stale() or self._state.is_error:
            self._start(force=True, automatic=True)

    def _mark_fresh(self) -> None:
        self._fresh_until = self._clock.monotonic() + self._source.stale_time

    def _expired(self) -> bool:
        return self._fresh_until is not None and self._clock.monotonic() >= self._fresh_until

    def _is_stale(self) -> bool:
        return self._state.is_stale or self._expired()

    def _dispatch(self, action: QueryAction[T]) -> None:
        new = reduce_query(self._state, action)
        if new is self._state or new == self._state:
            return
        self._state = new
        self._observers.emit(new)


def join(*stops: Callable[[], None]) -> Callable[[], None]:
    """One function that calls each of ``stops`` once."""
    done = False

    def stop() -> None:
        nonlocal done
        if done:
            return
        done = True
        for each in stops:
            each()

    return stop
