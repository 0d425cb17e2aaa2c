"""The reference backend under a real uvicorn on a free port, in the test's own event loop.

    async with live_backend(tmp_path / "backend") as backend:
        pa = await backend.integration()        # realtime on: WebSocket, SSE and polling work
        await backend.sign_in(pa)

WebSocket and SSE need a real server (an ASGI transport can neither stream nor upgrade);
running it in the test's loop keeps start-up cheap and lets a test stop and start servers at
will. Put a ``tcp_proxy`` in front of ``port`` to cut its sockets. Needs the ``[server]`` extra.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2

from pyairtable_integration import PyAirtableIntegration

from ._api import BackendApi
from ._backend import Backend, backend_settings

#: How long the server may take to start before the test fails.
STARTUP_SECONDS = 30


@dataclass
class Serving:
    """A uvicorn server running an app on ``port`` (``server`` is the ``uvicorn.Server``)."""

    port: int
    server: Any


@asynccontextmanager
async def serving(
    app: Any, *, port: int | None = None, send_buffer: int | None = None
) -> AsyncIterator[Serving]:
    """Serve the ASGI ``app`` on 127.0.0.1 (``port``, else a free one) until the block ends.

    ``send_buffer`` shrinks the kernel's send buffer of every accepted connection (they
    inherit it from the listening socket), so a client that stops reading blocks the server
    after little data.

    Raises:
        TimeoutError: the server did not start within ``STARTUP_SECONDS``.
        ImportError: the ``[server]`` extra is not installed.
    """
    import uvicorn

    from pyairtable_server.http.server_protocol import protocol_options

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port or 0))
    if send_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
        **protocol_options(),
    )
    server = uvicorn.Server(config)
    with sock:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(server.serve, [sock])
            with anyio.fail_after(STARTUP_SECONDS):
                while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
                    await anyio.sleep(0.01)
            try:
                yield Serving(sock.getsockname()[1], server)
            finally:
                server.should_exit = True


@dataclass
class LiveBackend(Backend):
    """The reference backend on a port (``server`` is the ``uvicorn.Server``), with a raw
    client to it (``api``)."""

    port: int
    server: Any
    api: BackendApi

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The API's base URL (what ``create_integration(base_url=...)`` takes)."""
        return f"{self.origin}/api/v1"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def integration(self, **options: Any) -> PyAirtableIntegration:
        """An initialized integration on this backend (realtime on); ``options`` as
        ``create_integration``. Closed when the backend stops."""
        options.setdefault("base_url", self.base_url)
        return await self._started(options)


@asynccontextmanager
async def live_backend(
    data_dir: Path, *, port: int | None = None, send_buffer: int | None = None, **settings: Any
) -> AsyncIterator[LiveBackend]:
    """Start the reference backend on SQLite in ``data_dir``, served on a port (see
    ``serving``); ``settings`` over the fast test settings. Closes its integrations after.

    Raises:
        ImportError: the ``[server]`` extra is not installed.
    """
    from pyairtable_server.app import create_app

    app = create_app(backend_settings(data_dir, **settings))
    async with serving(app, port=port, send_buffer=send_buffer) as served:
        origin = f"http://127.0.0.1:{served.port}/api/v1"
        async with httpx2.AsyncClient(base_url=origin, timeout=30) as client:
            backend = LiveBackend(app, served.port, served.server, BackendApi(client, app))
            try:
                yield backend
            finally:
                await backend._close_integrations()
