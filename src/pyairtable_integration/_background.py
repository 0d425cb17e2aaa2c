"""The integration's background work: one anyio task group, and failures that reach the user.

``Background`` owns one task group for the long-running loops of an integration (the token
refresher, the offline outbox). The group is opened by ``start()`` (from ``initialize()``) in
a task of its own, because an app may call ``initialize()`` and ``aclose()`` from different
tasks, and anyio's groups must be left by the task that entered them.

A loop that fails is supervised explicitly rather than cancelling its siblings: one broken
loop (the outbox's conflict strategy raising, a token store that cannot save) must not stop
realtime or the others. Each failure, and each one a part reports itself with ``report``
(a crashed realtime runner, a replay that raised), is:

- told at once to the listeners of ``on_error`` (the integration's documented callback,
  ``pa.on_background_error``), and
- raised by ``aclose()`` as an ``ExceptionGroup`` ("background work of the integration
  failed"), so leaving ``async with create_integration(...)`` raises it too. Nothing is only
  logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import anyio
from anyio.abc import TaskGroup

from ._subscribable import Listeners

logger = logging.getLogger("pyairtable_integration")

ErrorListener = Callable[[Exception], object]


class Background:
    """The loops of one integration and the failures they met (``errors``)."""

    def __init__(self) -> None:
        self.errors: list[Exception] = []
        self._listeners: Listeners[Exception] = Listeners("background error")
        self._loops: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self._runner: asyncio.Task[None] | None = None
        self._group: TaskGroup | None = None
        self._stop: asyncio.Event | None = None

    def __repr__(self) -> str:
        running = self._runner is not None and not self._runner.done()
        return f"Background(running={running}, errors={len(self.errors)})"

    @property
    def running(self) -> bool:
        """Whether the task group is open."""
        return self._runner is not None and not self._runner.done()

    def on_error(self, listener: ErrorListener) -> Callable[[], None]:
        """Call ``listener(error)`` for every background failure; returns a function to stop."""
        return self._listeners.subscribe(listener)

    def report(self, error: Exception, where: str) -> None:
        """Record a failure of background work ``where`` (kept for ``aclose``) and tell the
        listeners now."""
        error.add_note(f"in the integration's background work: {where}")
        logger.error("background work failed: %s: %r", where, error)
        self.errors.append(error)
        self._listeners.emit(error)

    def start(self, loops: list[tuple[str, Callable[[], Awaitable[None]]]]) -> None:
        """Open the task group and start each ``(name, loop)`` in it; once only."""
        if self._runner is not None:
            return
        self._loops = list(loops)
        self._stop = asyncio.Event()
        self._runner = asyncio.get_running_loop().create_task(self._run())

    async def aclose(self) -> None:
        """Cancel every loop, wait until none runs, then raise what failed meanwhile.

        Raises:
            ExceptionGroup: one or more loops (or parts reporting) failed; raised once.
        """
        runner, self._runner = self._runner, None
        if runner is not None:
            assert self._stop is not None
            self._stop.set()
            if self._group is not None:
                self._group.cancel_scope.cancel()
            await asyncio.gather(runner, return_exceptions=True)
        errors, self.errors = self.errors, []
        if errors:
            raise ExceptionGroup("background work of the integration failed", errors)

    async def _run(self) -> None:
        assert self._stop is not None
        async with anyio.create_task_group() as group:
            self._group = group
            for name, loop in self._loops:
                group.start_soon(self._supervise, name, loop)
            await self._stop.wait()
            group.cancel_scope.cancel()
        self._group = None

    async def _supervise(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        # ``loop`` is called here, inside the group: a group cancelled before it first runs
        # then leaves no coroutine that was never awaited.
        try:
            await loop()
        except Exception as exc:
            self.report(exc, name)
