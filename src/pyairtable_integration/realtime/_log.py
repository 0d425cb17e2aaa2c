"""Reading the event log for the realtime connection: pages, and the head of the log.

An open event-log breaker is waited out (for the ``retry_in`` it gives), not raised: it says
the log was failing, which the connection already knows, and meanwhile the WebSocket probe
keeps trying the socket. When the breaker turns half-open, the read that waited is its probe,
and its answer is used rather than thrown away.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .._clock import Clock
from .._errors import CircuitOpenError
from ..types import EventPage

#: A ``since`` beyond any log: the answer is a reset whose ``next_since`` is the head.
_BEYOND_THE_LOG = 2**53


class EventLog:
    """``get_events`` (the event service's) with an open breaker waited out on ``clock``."""

    def __init__(
        self,
        get_events: Callable[..., Awaitable[EventPage]],
        *,
        clock: Clock,
        retry_wait: float,
    ) -> None:
        self._get_events = get_events
        self._clock = clock
        self._retry_wait = retry_wait

    async def read(self, **query: Any) -> EventPage:
        """One read of the event log (``since``, ``limit``, ``channel``, filters).

        Raises:
            ServiceError: the log could not be read (no answer, an error status).
        """
        while True:
            try:
                return await self._get_events(**query)
            except CircuitOpenError as exc:
                await self._clock.sleep(exc.retry_in or self._retry_wait)

    async def head(self) -> int:
        """The position of the newest event in the log.

        Raises:
            ServiceError: the log could not be read.
        """
        page = await self.read(since=_BEYOND_THE_LOG, limit=1)
        return page.next_since
