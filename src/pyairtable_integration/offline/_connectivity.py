"""Whether the backend is reachable: fed by failed and successful sends, the realtime
connection's state, and a health probe that runs while offline.

``probe_delay`` is the pure back-off between probes; ``Connectivity.run`` is the probing loop
the outbox owns.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from .._clock import Clock
from .._errors import ServiceError
from .._subscribable import Listeners

logger = logging.getLogger("pyairtable_integration.offline")

DEFAULT_PROBE_BASE_DELAY = 0.25
DEFAULT_PROBE_MAX_DELAY = 10.0

ConnectivityListener = Callable[[bool], None]


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


class Connectivity:
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
        self._listeners: Listeners[bool] = Listeners("connectivity")
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

    def on_change(self, listener: ConnectivityListener) -> Callable[[], None]:
        """Call ``listener(online)`` on every change; returns a function that stops it."""
        return self._listeners.subscribe(listener)

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
