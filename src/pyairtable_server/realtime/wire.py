"""WebSocket frames written straight to uvicorn's sans-I/O protocol, for the fan-out.

Under ASGI, every frame a server sends is an ``await send({"type": "websocket.send", ...})``:
Starlette's state checks and exception wrapper, then uvicorn's coroutine, which waits until the
transport is writable, frames the text (websockets' ``send_text``) and writes it. For one event
fanned out to a thousand sockets that is a thousand coroutines framing the same bytes. A server's
frames are not masked, so the frame of an event is the same bytes on every socket: the fan-out
frames each event once per audience (``text_frame``) and writes it to each socket's transport
itself (``DirectSocket.write``), several frames joined into one write when they queued up.

That needs what ASGI does not hand out: the connection's protocol object. ``DirectSocket.of``
finds it as the owner of the ASGI ``receive`` callable when that is uvicorn's
``WebSocketsSansIOProtocol`` (what ``serve`` and the test servers run); for any other server it
gives None, and the endpoint sends through ASGI as usual. Writing past the app's middleware is
sound because none of it changes WebSocket frames (what looks at a WebSocket scope refuses or
admits the handshake, before any frame).

A frame may be written only when uvicorn would write one itself: the handshake done, no close
frame sent or received (the sans-I/O connection ``OPEN``), the transport not closing, and the
protocol not paused (``writable`` is cleared while the transport's buffer is above its high-water
mark: the client does not read fast enough). ``state`` says which; a paused socket's frames stay
queued until ``writable`` returns.
"""

from __future__ import annotations

import enum

from starlette.websockets import WebSocket
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State


class SocketState(enum.Enum):
    """Whether a frame can be written now (``OPEN``), later (``PAUSED``) or never (``GONE``)."""

    OPEN = "open"
    PAUSED = "paused"
    GONE = "gone"


class DirectSocket:
    """One WebSocket's transport, written without the ASGI layers (see the module docstring)."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self._protocol = protocol

    @classmethod
    def of(cls, websocket: WebSocket) -> DirectSocket | None:
        """The socket under ``websocket`` when uvicorn's sans-I/O protocol serves it, else None."""
        protocol = getattr(websocket._receive, "__self__", None)
        if isinstance(protocol, WebSocketsSansIOProtocol):
            return cls(protocol)
        return None

    @property
    def state(self) -> SocketState:
        protocol = self._protocol
        if (
            protocol.disconnected
            or protocol.close_sent
            or protocol.conn.state is not State.OPEN
            or protocol.transport.is_closing()
        ):
            return SocketState.GONE
        if not protocol.writable.is_set():
            return SocketState.PAUSED
        return SocketState.OPEN

    def write(self, data: bytes) -> None:
        """Write complete frames; only when ``state`` is ``OPEN``."""
        self._protocol.transport.write(data)

    async def writable(self) -> None:
        """Wait until the transport takes writes again (or the connection is lost)."""
        await self._protocol.writable.wait()


def text_frame(text: str) -> bytes:
    """The unmasked, unfragmented text frame carrying ``text``, as a server sends it."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


__all__ = ["DirectSocket", "SocketState", "text_frame"]
