"""The blocking facade's event loop: anyio's blocking portal, in one daemon thread.

Every call hands a coroutine to the portal's loop and waits for its result, so the async core is
the only implementation. ``anyio.from_thread.start_blocking_portal`` owns the thread and the
loop (a daemon thread, so a script that forgets ``close()`` still exits; its loop finalizes
async generators and cancels what is left when it stops). ``LoopThread`` adds what the facade
promises on top: the thread's name, a refusal to be called from a running event loop (which it
would block), a call abandoned by Ctrl-C cancelled on the loop, and lazy iterators.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future
from contextlib import AbstractContextManager
from functools import partial
from typing import ParamSpec, TypeVar, cast

from anyio.from_thread import BlockingPortal, start_blocking_portal

P = ParamSpec("P")
T = TypeVar("T")

THREAD_NAME = "pyairtable-integration-sync"
_IN_LOOP_MESSAGE = (
    "The blocking SyncIntegration was called from inside a running event loop, where it would "
    "block that loop; in async code (and in notebooks, with top-level await) use the async API: "
    "`pa = create_integration(...)` and `await pa.services...`."
)


def refuse_running_loop() -> None:
    """Return when no event loop runs in this thread.

    Raises:
        RuntimeError: one does (a blocking call would block it).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(_IN_LOOP_MESSAGE)


class LoopThread:
    """A blocking portal (an event loop in the daemon thread ``THREAD_NAME``) until ``stop``."""

    def __init__(self) -> None:
        self._context: AbstractContextManager[BlockingPortal] = start_blocking_portal(
            name=THREAD_NAME
        )
        self._portal = self._context.__enter__()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def run(self, function: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """Await ``function(*args, **kwargs)`` on the loop and return its result here.

        Raises:
            RuntimeError: called from a running event loop, or after ``stop``.
            BaseException: whatever the call raised.
        """
        self.check()
        return self._wait(self._portal.start_task_soon(partial(function, *args, **kwargs)))

    def call(self, function: Callable[[], T]) -> T:
        """Run the plain ``function`` on the loop thread, where the state it reads is changed.

        Raises:
            RuntimeError: called from a running event loop, or after ``stop``.
        """
        self.check()
        return self._wait(self._portal.start_task_soon(function))

    def usable(self) -> bool:
        """Whether ``check`` would pass."""
        if self._closed:
            return False
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return True
        return False

    def stop(self) -> None:
        """Stop the portal (what is left on its loop is cancelled) and wait for the thread;
        safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._context.__exit__(None, None, None)

    def check(self) -> None:
        """Return when calls may be made from here.

        Raises:
            RuntimeError: this thread runs an event loop, or the portal was stopped.
        """
        if self._closed:
            raise RuntimeError("This SyncIntegration is closed; create a new one.")
        refuse_running_loop()

    @staticmethod
    def _wait(future: Future[T]) -> T:
        try:
            return future.result()
        except BaseException:
            # Ctrl-C while waiting: the work on the loop must not go on without a caller.
            future.cancel()
            raise


def blocking_iterator(loop: LoopThread, source: AsyncIterator[T]) -> Iterator[T]:
    """``source``'s items, each awaited on ``loop`` when the caller asks for it."""
    done = object()

    async def step() -> object:
        try:
            return await anext(source)
        except StopAsyncIteration:
            return done

    try:
        while (item := loop.run(step)) is not done:
            yield cast(T, item)
    finally:
        close = getattr(source, "aclose", None)
        # Closed here when possible; otherwise (the integration closed, or a generator
        # collected inside some event loop) the loop's async-generator hook finalizes it.
        if close is not None and loop.usable():
            loop.run(close)
