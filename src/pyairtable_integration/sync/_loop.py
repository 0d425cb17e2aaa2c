"""The blocking facade's event loop: one loop in a daemon thread that every blocking call uses.

Every call hands a coroutine to the loop thread and waits for its result, so the async core is
the only implementation. (anyio's blocking portal does the same; this one keeps the thread's
name, its refusal to be called from a running loop, and the async-generator cleanup the facade
relies on, and is what the generated twins in ``_services`` call.)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, ParamSpec, TypeVar, cast

P = ParamSpec("P")
T = TypeVar("T")

THREAD_NAME = "pyairtable-integration-sync"
_IN_LOOP_MESSAGE = (
    "The blocking SyncIntegration was called from inside a running event loop, where it would "
    "block that loop; in async code (and in notebooks, with top-level await) use the async API: "
    "`pa = create_integration(...)` and `await pa.services...`."
)


def refuse_running_loop() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(_IN_LOOP_MESSAGE)


class LoopThread:
    """An event loop running forever in a daemon thread, until ``stop``."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name=THREAD_NAME, daemon=True)
        self._thread.start()

    @property
    def closed(self) -> bool:
        return self._closed

    def run(
        self, function: Callable[P, Coroutine[Any, Any, T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Await ``function(*args, **kwargs)`` on the loop and return its result here.

        Raises:
            RuntimeError: called from a running event loop, or after ``stop``.
            BaseException: whatever the call raised.
        """
        self.check()
        future = asyncio.run_coroutine_threadsafe(function(*args, **kwargs), self._loop)
        try:
            return future.result()
        except BaseException:
            # Ctrl-C while waiting: the work on the loop must not go on without a caller.
            future.cancel()
            raise

    def call(self, function: Callable[[], T]) -> T:
        """Run the plain ``function`` on the loop thread, where the state it reads is changed.

        Raises:
            RuntimeError: called from a running event loop, or after ``stop``.
        """

        async def on_loop() -> T:
            return function()

        return self.run(on_loop)

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
        """End the loop and wait for the thread; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()

    def check(self) -> None:
        """Return when calls may be made from here.

        Raises:
            RuntimeError: this thread runs an event loop, or the loop was stopped.
        """
        if self._closed:
            raise RuntimeError("This SyncIntegration is closed; create a new one.")
        refuse_running_loop()

    def _serve(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            # Whatever is still scheduled (a call abandoned by Ctrl-C) is cancelled and awaited,
            # so no task is destroyed pending.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


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
