"""The one answer to "is the backend reachable?" (TanStack query-core's ``onlineManager``).

One ``OnlineStatus`` per integration (``pa.online``), fed by the outbox's sends, the realtime
connection's state, a live query whose fetch got no answer, and a health probe that runs while
offline; the outbox, live queries and ``pa.live.connection`` all read it. Offline means
*paused*: a paused query or write resumes by itself when the probe (or any of the feeds) says
the backend answers again, whether or not the outbox or realtime are on.

``probe_delay`` is the pure back-off between probes; ``OnlineStatus.run`` is the probing loop,
run in the integration's background task group.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from ._clock import Clock
from ._errors import ServiceError
from ._subscribable import Listeners

logger = logging.getLogger("pyairtable_integration.online")

DEFAULT_PROBE_BASE_DELAY = 0.25
DEFAULT_PROBE_MAX_DELAY = 10.0

OnlineListener = Callable[[bool], object]


def probe_delay(
    attempt: int,
    *,
    base: float = DEFAULT_PROBE_BASE_DELAY,
    cap: float = DEFAULT_PROBE_MAX_DELAY,
    uniform: Callable[[float, float], float] = random.uniform,
) -> float:
    """Seconds before health probe number ``attempt`` (1 first): doubling from ``base`` up to
    ``cap``, with "equal jitter" (half fixed, half random) so many clients do not probe in step.

    Raises:
        ValueError: ``attempt`` is below 1.
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 32))
    return ceiling / 2 + uniform(0, ceiling / 2)


class OnlineStatus:
    """Online or offline, with listeners; ``run`` probes ``probe`` with back-off while offline.

    The state starts online (a write is tried at once); the first failure to reach the backend
    turns it offline, and only a successful probe or ``set_online(True)`` turns it back.
    """

    def __init__(
        self,
        probe: Callable[[], Awaitable[object]],
        *,
        clock: Clock,
        base_delay: float = DEFAULT_PROBE_BASE_DELAY,
        max_delay: float = DEFAULT_PROBE_MAX_DELAY,
    ) -> None:
        self._probe = probe
        self._clock = clock
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._online = True
        self._came_online = asyncio.Event()
        self._came_online.set()
        self._went_offline = asyncio.Event()
        self._listeners: Listeners[bool] = Listeners("online status")
        self.probes = 0

    @property
    def online(self) -> bool:
        """Whether the backend is believed reachable now."""
        return self._online

    def set_online(self, online: bool) -> None:
        """Report reachability (from a send, the realtime connection, or the app); listeners
        hear only changes."""
        if online == self._online:
            return
        self._online = online
        if online:
            self._went_offline.clear()
            self._came_online.set()
        else:
            self._came_online.clear()
            self._went_offline.set()
        self._listeners.emit(online)

    def subscribe(self, listener: OnlineListener) -> Callable[[], None]:
        """Call ``listener(online)`` on every change; returns a function that stops it."""
        return self._listeners.subscribe(listener)

    on_change = subscribe

    async def wait_online(self) -> None:
        """Return once the backend is believed reachable (at once when it is)."""
        await self._came_online.wait()

    async def run(self) -> None:
        """Probe the backend with back-off whenever offline, until cancelled."""
        while True:
            await self._went_offline.wait()
            attempt = 0
            while not self._online:
                attempt += 1
                await self._clock.sleep(
                    probe_delay(attempt, base=self._base_delay, cap=self._max_delay)
                )
                if self._online:
                    break
                self.probes += 1
                try:
                    await self._probe()
                except ServiceError as exc:
                    logger.debug("health probe %d failed: %s", attempt, exc.type)
                    continue
                self.set_online(True)
