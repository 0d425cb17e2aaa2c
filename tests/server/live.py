"""The app under a real uvicorn on a free port, in the test's own event loop, for socket tests.

WebSocket and SSE need a real server (the ASGI transport cannot stream or upgrade); running it in
the test's loop keeps set-up cheap and lets a test stop and start servers at will.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import pytest
from websockets.asyncio.client import ClientConnection, connect

from pyairtable_integration.testing import LiveBackend, serving
from pyairtable_server.app import create_app
from pyairtable_server.realtime.wire import DirectSocket
from pyairtable_server.services import AppServices
from pyairtable_server.settings import Settings

from .backend import Actor, Api


@dataclass
class Live(LiveBackend):
    """The plugin's live backend, with the server's own services at hand."""

    @property
    def services(self) -> AppServices:
        services: AppServices = self.app.state.services
        return services

    def connect(self, token: str | None = None, **options: Any) -> Any:
        """``websockets`` connect to ``/ws`` (with ``?token=`` when given)."""
        url = self.ws_url if token is None else f"{self.ws_url}?token={token}"
        return connect(url, open_timeout=10, **options)


@asynccontextmanager
async def live_server(
    settings: Settings, *, port: int | None = None, send_buffer: int | None = None
) -> AsyncIterator[Live]:
    """Serve ``settings``' app until the block ends; yield an ``Api`` talking real HTTP to it.

    The serving is the public test plugin's (``serving``: uvicorn on a free port, in this loop);
    ``send_buffer`` shrinks the kernel's send buffer of every accepted connection.
    """
    app = create_app(settings)
    async with (
        serving(app, port=port, send_buffer=send_buffer) as served,
        httpx2.AsyncClient(base_url=f"http://127.0.0.1:{served.port}/api/v1", timeout=30) as client,
    ):
        yield Live(app, served.port, served.server, Api(client, app))


@dataclass
class Writes:
    """How the server wrote its WebSocket frames: ``direct`` writes (several frames each) and
    waits for a paused transport to drain (``waits``); none when it sends through ASGI."""

    writer: str
    direct: int = 0
    waits: int = 0


def spy_on_writes(monkeypatch: pytest.MonkeyPatch, writer: str) -> Writes:
    """Count the server's direct writes; with ``writer="asgi"`` make it send through ASGI, as it
    does under a server other than uvicorn's sans-I/O protocol (where it cannot write directly)."""
    writes = Writes(writer)
    if writer == "asgi":
        monkeypatch.setattr(DirectSocket, "of", classmethod(lambda cls, websocket: None))
        return writes
    write, writable = DirectSocket.write, DirectSocket.writable

    def counted_write(self: DirectSocket, data: bytes) -> None:
        writes.direct += 1
        write(self, data)

    async def counted_writable(self: DirectSocket) -> None:
        writes.waits += 1
        await writable(self)

    monkeypatch.setattr(DirectSocket, "write", counted_write)
    monkeypatch.setattr(DirectSocket, "writable", counted_writable)
    return writes


async def receive(ws: ClientConnection, within: float = 10) -> dict[str, Any]:
    """The next JSON message, or fail after ``timeout`` seconds."""
    with anyio.fail_after(within):
        message: dict[str, Any] = json.loads(await ws.recv())
    return message


async def receive_type(ws: ClientConnection, kind: str, within: float = 10) -> dict[str, Any]:
    """Skip messages until one of type ``kind`` arrives."""
    with anyio.fail_after(within):
        while True:
            message = await receive(ws, within)
            if message["type"] == kind:
                return message


async def subscribe(
    ws: ClientConnection, subscription_id: str = "s1", **fields: Any
) -> dict[str, Any]:
    """Subscribe and return the confirmation."""
    await ws.send(json.dumps({"type": "subscribe", "subscription_id": subscription_id, **fields}))
    return await receive_type(ws, "subscription_confirmed")


async def authed(ws: ClientConnection, token: str) -> dict[str, Any]:
    await ws.send(json.dumps({"type": "auth", "token": token}))
    return await receive_type(ws, "auth_ok")


async def events_until(
    ws: ClientConnection, count: int, within: float = 30
) -> list[dict[str, Any]]:
    """The next ``count`` event messages' events (other messages are skipped)."""
    found: list[dict[str, Any]] = []
    with anyio.fail_after(within):
        while len(found) < count:
            message = await receive(ws, within)
            if message["type"] == "event":
                found.append(message["event"])
    return found


@dataclass
class SseFrame:
    """One Server-Sent Events message (or a comment, with ``comment`` set)."""

    event: str | None = None
    id: str | None = None
    data: str = ""
    comment: str | None = None

    def json(self) -> Any:
        return json.loads(self.data)


async def sse_frames(response: httpx2.Response) -> AsyncIterator[SseFrame]:
    """Decode an ``text/event-stream`` body as it arrives (the subset of the spec servers use)."""
    current = SseFrame()
    data: list[str] = []
    async for line in response.aiter_lines():
        if line == "":
            if data or current.event or current.id:
                current.data = "\n".join(data)
                yield current
            current, data = SseFrame(), []
        elif line.startswith(":"):
            yield SseFrame(comment=line[1:].strip())
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                data.append(value)
            elif name == "event":
                current.event = value
            elif name == "id":
                current.id = value


async def write_records(
    api: Api, owner: Actor, table_id: str, count: int, text: str = ""
) -> list[str]:
    """Create ``count`` records named ``r<i><text>``; their ids, in order (``write_records`` of
    the plugin's set-up client)."""
    return await api.write_records(owner, table_id, count, text)
