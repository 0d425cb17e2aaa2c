"""The frames waiting for the live WebSocket, bounded.

``send`` is the only way in and ``open`` the socket's only way to read. Without a live socket
nothing is queued: the next socket subscribes afresh from the positions. A socket that falls
``SEND_BUFFER`` frames behind is replaced (``overflowed`` returns), rather than the queue
growing without end.
"""

from __future__ import annotations

import asyncio

#: Frames (subscribe, unsubscribe, token renewals) that may wait for the live socket.
SEND_BUFFER = 256


class SendBuffer:
    """The live socket's queue of frames to send (None while there is no socket)."""

    def __init__(self, size: int = SEND_BUFFER) -> None:
        self.size = size
        self._queue: asyncio.Queue[str] | None = None
        self._overflow = asyncio.Event()

    @property
    def is_open(self) -> bool:
        """Whether a socket reads the buffer."""
        return self._queue is not None

    def send(self, frame: str) -> None:
        """Queue ``frame`` for the live socket; nothing without one. A full buffer sets off
        ``overflowed`` (the socket cannot keep up) and ``frame`` is dropped with it."""
        queue = self._queue
        if queue is None:
            return
        try:
            queue.put_nowait(frame)
        except asyncio.QueueFull:
            self._overflow.set()

    def open(self) -> asyncio.Queue[str]:
        """A fresh, empty buffer for a socket that is about to subscribe everything."""
        self._overflow.clear()
        self._queue = asyncio.Queue(maxsize=self.size)
        return self._queue

    def close(self) -> None:
        """The socket is gone: frames are no longer queued."""
        self._queue = None

    async def overflowed(self) -> None:
        """Return when ``send`` found the buffer full."""
        await self._overflow.wait()
