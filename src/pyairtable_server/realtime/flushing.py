"""When subscribers whose transport writes from the caller's call get what was queued for them.

A WebSocket served by uvicorn's sans-I/O protocol has no writer task: its frames are written by
whoever calls its ``flush`` (``realtime.wire``), everything queued in one write. The hub dispatches
in the task that committed, so writing to a thousand sockets there would make the write's answer
wait for all of them. ``Flusher`` writes to the first ``at_once`` sockets at once when asked
(``flush_now``: the dispatch does, so a single subscriber's event leaves with the commit) and to the
rest from the event loop's next passes, ``per_pass`` sockets a pass, so that requests and reads run
in between. A socket that gets more while it waits for its turn writes all of it in one go: the
busier the loop, the more events share a write.

The server runs on asyncio only (uvicorn), so the passes are ``call_soon`` callbacks rather than a
task that would have to be woken.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Protocol

logger = logging.getLogger("pyairtable_server.realtime")


class Flushable(Protocol):
    """A subscriber as the flusher sees it."""

    #: True while it waits in the flusher's queue (set and cleared by the flusher).
    flush_due: bool
    #: Writes what its outbox holds, or arranges for it to be written; None once it is gone.
    flush: Callable[[], None] | None


class Flusher:
    """The queue of subscribers with something to write; see the module docstring."""

    def __init__(self, *, at_once: int, per_pass: int) -> None:
        self.at_once = at_once
        self.per_pass = per_pass
        self._due: deque[Flushable] = deque()
        self._scheduled = False

    def __len__(self) -> int:
        return len(self._due)

    def due(self, subscriber: Flushable) -> None:
        """``subscriber`` has something to write: flush it on a coming pass (once however many
        times it is called before then)."""
        if subscriber.flush_due:
            return
        subscriber.flush_due = True
        self._due.append(subscriber)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._pass)

    def flush_now(self) -> None:
        """Flush up to ``at_once`` of the waiting subscribers here, the oldest first."""
        self._flush(self.at_once)

    def _pass(self) -> None:
        self._scheduled = False
        self._flush(self.per_pass)
        if self._due and not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._pass)

    def _flush(self, limit: int) -> None:
        due = self._due
        while due and limit > 0:
            subscriber = due.popleft()
            subscriber.flush_due = False
            flush = subscriber.flush
            if flush is None:
                continue
            limit -= 1
            try:
                flush()
            except Exception:  # one broken transport must not keep the others waiting
                logger.exception("realtime: flushing a subscriber failed")


__all__ = ["Flushable", "Flusher"]
