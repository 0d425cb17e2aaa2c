"""Time as a dependency: the SDK reads the clock and sleeps only through a ``Clock``.

Tests pass their own clock to move time without sleeping; everything else uses ``SystemClock``.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Where the SDK gets the time and how it waits."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for durations and deadlines."""
        ...

    def now(self) -> datetime:
        """The current wall-clock time, timezone-aware in UTC, for token expiry."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (cancellable)."""
        ...


class SystemClock:
    """The real clock: ``time.monotonic``, ``datetime.now(UTC)`` and ``asyncio.sleep``."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
