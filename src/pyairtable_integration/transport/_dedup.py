"""Identical concurrent reads share one request (single flight)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """Runs one call per key at a time; callers that arrive meanwhile await the same result.

    The shared call runs in a task of its own, so a caller that is cancelled leaves it running for
    the others; ``aclose`` cancels whatever is still in flight. Every caller gets the same result
    object, or the same exception.
    """

    def __init__(self) -> None:
        self._flights: dict[Hashable, asyncio.Task[T]] = {}

    async def run(self, key: Hashable, call: Callable[[], Awaitable[T]]) -> T:
        """The result of ``call()``, or of the identical call already in flight under ``key``."""
        task = self._flights.get(key)
        if task is None:
            task = asyncio.ensure_future(call())
            self._flights[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        return await asyncio.shield(task)

    def running(self, key: Hashable) -> bool:
        """Whether a call under ``key`` is in flight (a ``run`` now would share it)."""
        return key in self._flights

    def in_flight(self) -> int:
        """How many distinct calls are running."""
        return len(self._flights)

    async def aclose(self) -> None:
        """Cancel the calls in flight and wait for them to end."""
        tasks = list(self._flights.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _forget(self, key: Hashable, done: asyncio.Task[T]) -> None:
        if self._flights.get(key) is done:
            del self._flights[key]
        if not done.cancelled():
            done.exception()  # retrieved here so an unawaited failure is not logged as lost
