"""A clock for started integrations: virtual time that jumps ahead whenever the loop is idle.

``FakeClock`` returns from every sleep at once, so a loop that sleeps and then works (the token
refresher, realtime reconnects, the outbox's probe) spins on it. ``AutojumpClock`` is trio's
autojump clock for asyncio: a sleep really waits, on virtual time, and when nothing else is
ready to run for ``threshold`` real seconds the clock jumps to the earliest sleeper's deadline
and wakes it. A started integration then goes through a 30 s retry back-off, a 15 minute token
lifetime or a reconnect ladder in milliseconds, in the order real time would give, with no
real sleep in the test.

"Nothing else is ready" is read from the event loop's queue of ready callbacks (CPython's
``BaseEventLoop._ready``, stable since asyncio began; there is no public way to ask). Work in
threads (``asyncio.to_thread``: SQLite) or on real sockets is invisible to it: the clock jumps
only after ``threshold`` of real idleness, so such work normally finishes first. Raise
``threshold`` if a test's threads are slow.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import datetime

from ._clock import VirtualTime

DEFAULT_THRESHOLD = 0.002


class AutojumpClock(VirtualTime):
    """A ``Clock`` on virtual time that jumps to the next deadline whenever the loop is idle.

    ``monotonic()`` starts at 0 and ``now()`` at ``start`` (the wall clock by default); both
    move only by jumps and ``advance``. ``jumps`` counts the jumps; ``sleeps`` records every
    requested wait.

    Raises (from the constructor):
        ValueError: ``start`` is naive, or ``threshold`` is negative.
    """

    def __init__(
        self, start: datetime | None = None, *, threshold: float = DEFAULT_THRESHOLD
    ) -> None:
        if threshold < 0:
            raise ValueError("threshold cannot be negative")
        super().__init__(start)
        self.threshold = threshold
        self.jumps = 0
        self._order = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._jumper: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return (
            f"AutojumpClock(now={self.now().isoformat()}, sleepers={len(self._sleepers)}, "
            f"jumps={self.jumps})"
        )

    async def sleep(self, seconds: float) -> None:
        """Wait until virtual time reaches now + ``seconds`` (cancellable)."""
        self.sleeps.append(seconds)
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._sleepers, (self._elapsed + seconds, next(self._order), waiter))
        if self._jumper is None or self._jumper.done():
            self._jumper = loop.create_task(self._jump_when_idle(), name="autojump-clock")
        await waiter

    def advance(self, seconds: float) -> None:
        """Move virtual time forward by ``seconds`` now, waking the sleepers it passes.

        Raises:
            ValueError: ``seconds`` is negative (time never goes back).
        """
        self._move(seconds)
        self._wake_due()

    async def _jump_when_idle(self) -> None:
        loop = asyncio.get_running_loop()
        while self._sleepers:
            await asyncio.sleep(self.threshold)
            self._drop_cancelled()
            if not self._sleepers or _ready_callbacks(loop) > 0:
                continue
            deadline = self._sleepers[0][0]
            if deadline > self._elapsed:
                self._elapsed = deadline
                self.jumps += 1
            self._wake_due()

    def _wake_due(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._elapsed:
            _, _, waiter = heapq.heappop(self._sleepers)
            if not waiter.done():
                waiter.set_result(None)

    def _drop_cancelled(self) -> None:
        if any(waiter.done() for _, _, waiter in self._sleepers):
            self._sleepers = [item for item in self._sleepers if not item[2].done()]
            heapq.heapify(self._sleepers)


def _ready_callbacks(loop: asyncio.AbstractEventLoop) -> int:
    # See the module docstring: the only way to ask asyncio whether anything else can run.
    ready = getattr(loop, "_ready", None)
    return len(ready) if ready is not None else 0
