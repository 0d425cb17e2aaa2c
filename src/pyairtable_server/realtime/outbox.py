"""A subscriber's outbox: a bounded FIFO from the hub, which never waits, to one transport writer.

The hub puts without waiting (``put_nowait`` says False when the outbox is full, and the hub then
closes the subscriber: a slow consumer is cut off, never buffered without bound); a replay puts
with ``put``, waiting for room. The writer takes what is queued without waiting, one item
(``get_nowait``) or all of it at once (``take``, so that several frames go out in one write), and
waits (``wait``) only when the outbox is empty. ``close`` ends the outbox after what it holds;
``release`` ends it at once, waking whoever waits.

Why not anyio's memory object stream, which has these semantics: under fan-out every event wakes
every subscriber's writer, and the stream allocates an ``Event`` and task bookkeeping per
blocked receive and checks cancellation per send, which was about a sixth of the server's CPU
with 1,000 subscribers (bench/realtime.py under py-spy). Here a put is a ``list.append`` and
waking a waiting writer resolves one future. An outbox is mostly empty and there is one per
connection, so it holds a list (56 bytes empty; a deque is 760) and makes its waiters' list only
when someone waits for room. The server runs on asyncio only (uvicorn), so the waits are asyncio
futures; a cancelled wait leaves the outbox as it was.
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

T = TypeVar("T")


class Outbox(Generic[T]):
    """A bounded FIFO with one reader; see the module docstring."""

    __slots__ = ("_closed", "_items", "_putters", "_reader", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: list[T] = []
        self._closed = False
        #: The reader's wait for an item (at most one reader), and the putters' waits for room.
        self._reader: asyncio.Future[None] | None = None
        self._putters: list[asyncio.Future[None]] | None = None

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        """True once ``close`` or ``release`` was called: nothing more can be put."""
        return self._closed

    def put_nowait(self, item: T) -> bool:
        """Queue ``item`` if there is room; False (and nothing queued) when full or closed."""
        if self._closed or len(self._items) >= self.size:
            return False
        self._items.append(item)
        reader = self._reader
        if reader is not None:
            self._reader = None
            if not reader.done():
                reader.set_result(None)
        return True

    async def put(self, item: T) -> bool:
        """Queue ``item``, waiting for room; False when the outbox was closed first."""
        while not self._closed and len(self._items) >= self.size:
            room = asyncio.get_running_loop().create_future()
            if self._putters is None:
                self._putters = []
            self._putters.append(room)
            try:
                await room
            finally:
                if self._putters is not None and room in self._putters:
                    self._putters.remove(room)
        return self.put_nowait(item)

    def get_nowait(self) -> T | None:
        """The oldest item, or None when there is none right now (or the outbox was released)."""
        if not self._items:
            return None
        item = self._items.pop(0)  # at most ``size`` items: a short move
        self._make_room()
        return item

    def take(self) -> list[T]:
        """Everything queued, oldest first (empty when nothing is)."""
        items = self._items
        if not items:
            return items
        self._items = []
        self._make_room()
        return items

    async def wait(self) -> bool:
        """Wait until an item is queued; False when there will be none (closed and empty)."""
        while not self._items:
            if self._closed:
                return False
            reader = self._reader = asyncio.get_running_loop().create_future()
            try:
                await reader
            finally:
                if self._reader is reader:
                    self._reader = None
        return True

    async def get(self) -> T | None:
        """The oldest item, waiting for one; None once the outbox is closed and empty."""
        if not await self.wait():
            return None
        return self.get_nowait()

    def close(self) -> None:
        """Accept nothing more; the reader still gets what is queued, then the end."""
        if self._closed:
            return
        self._closed = True
        self._wake_all()

    def release(self) -> None:
        """Close and drop whatever is queued (the reader is gone or done)."""
        self._items.clear()
        self.close()
        self._wake_all()

    def _make_room(self) -> None:
        """Wake the putters the room now taken by the queue leaves space for."""
        putters = self._putters
        while putters and len(self._items) < self.size:
            room = putters.pop(0)
            if not room.done():
                room.set_result(None)

    def _wake_all(self) -> None:
        waiters = self._putters or []
        self._putters = None
        if self._reader is not None:
            waiters.append(self._reader)
            self._reader = None
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


__all__ = ["Outbox"]
