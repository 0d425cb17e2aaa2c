"""One listener mechanism for the whole SDK: ``subscribe(listener) -> unsubscribe``.

Every observable part (the session, the record cache, the realtime connection, the outbox,
connectivity, optimistic updates, live queries and mutations) keeps its listeners in a
``Listeners`` (TanStack query-core's ``subscribable.ts``), so they all behave alike:

- ``subscribe`` returns the function that unsubscribes; calling it twice is harmless, and
  a listener subscribed twice is called twice and unsubscribed one registration at a time;
- listeners are called in the order they subscribed, on a snapshot, so one that subscribes or
  unsubscribes while being called changes the next emission, not this one;
- the error policy: a listener that raises is logged with its traceback and the others are
  still called; the emitter never sees the error (the listener is the app's code, the change it
  hears has happened already).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")

logger = logging.getLogger("pyairtable_integration")

Listener = Callable[[T], object]


class _Registration(Generic[T]):
    __slots__ = ("listener",)

    def __init__(self, listener: Listener[T]) -> None:
        self.listener = listener


class Listeners(Generic[T]):
    """The listeners of one kind of change; ``what`` names it in the log when one fails."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._registrations: list[_Registration[T]] = []

    def __repr__(self) -> str:
        return f"Listeners({self._what!r}, {len(self._registrations)})"

    def __len__(self) -> int:
        return len(self._registrations)

    def __bool__(self) -> bool:
        return bool(self._registrations)

    def subscribe(self, listener: Listener[T]) -> Callable[[], None]:
        """Call ``listener(value)`` on every ``emit``; returns the function that stops it."""
        registration = _Registration(listener)
        self._registrations.append(registration)

        def unsubscribe() -> None:
            if registration in self._registrations:
                self._registrations.remove(registration)

        return unsubscribe

    def clear(self) -> None:
        """Unsubscribe every listener (their owner is closing)."""
        self._registrations.clear()

    def emit(self, value: T) -> None:
        """Call every listener with ``value``; a listener's failure is logged, never raised.

        A listener that returns an awaitable (an ``async def``) is not awaited here: use
        ``emit_async`` where listeners may be coroutines.
        """
        for registration in tuple(self._registrations):
            try:
                result = registration.listener(value)
                if inspect.iscoroutine(result):
                    result.close()
                    raise TypeError("an async listener was given to a synchronous emitter")
            except Exception:
                logger.exception("a %s listener failed", self._what)

    async def emit_async(self, value: T) -> None:
        """Call every listener with ``value``, awaiting those that return an awaitable, one
        after the other; a listener's failure is logged, never raised."""
        for registration in tuple(self._registrations):
            try:
                result = registration.listener(value)
                if inspect.isawaitable(result):
                    await _awaited(result)
            except Exception:
                logger.exception("a %s listener failed", self._what)


async def _awaited(result: Awaitable[object]) -> None:
    await result
