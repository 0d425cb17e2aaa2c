"""A clock for tests: time moves only when the test says so, or when someone sleeps on it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

DEFAULT_START = datetime(2030, 1, 1, tzinfo=UTC)


class VirtualTime:
    """What every test clock shares: ``now()`` from ``start`` (the wall clock by default) and
    ``monotonic()`` from 0, both moved only by the clock itself; ``sleeps`` records every wait.

    Raises (from the constructor):
        ValueError: ``start`` is naive.
    """

    def __init__(self, start: datetime | None = None) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._start = (start or datetime.now(UTC)).astimezone(UTC)
        self._elapsed = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        """Seconds since the clock was made, as the clock has moved them."""
        return self._elapsed

    def now(self) -> datetime:
        """The start time plus every second the clock was moved, in UTC."""
        return self._start + timedelta(seconds=self._elapsed)

    def _move(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock never goes back")
        self._elapsed += seconds


class FakeClock(VirtualTime):
    """A ``Clock`` whose time stands still until ``advance`` or ``sleep`` moves it.

    ``sleep(seconds)`` records the wait in ``sleeps``, moves time forward by it at once and
    yields to the event loop once, so retry back-offs and ``Retry-After`` waits cost nothing and
    can be asserted exactly. Because every sleep returns at once, a background loop that sleeps
    and then works (the integration's proactive token refresh, started by ``initialize()``)
    would run flat out on this clock: give it to integrations that are not initialized.

    ``now()`` starts at ``start`` (the wall clock by default) and ``monotonic()`` at 0; both
    advance together.
    """

    async def sleep(self, seconds: float) -> None:
        """Record the wait, move time forward by it, and let other tasks run once."""
        self.sleeps.append(seconds)
        self._elapsed += max(0.0, seconds)
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``.

        Raises:
            ValueError: ``seconds`` is negative (time never goes back).
        """
        self._move(seconds)

    def __repr__(self) -> str:
        return f"FakeClock(now={self.now().isoformat()}, sleeps={len(self.sleeps)})"
