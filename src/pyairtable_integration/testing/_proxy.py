"""A TCP proxy the test controls, to inject faults into sockets (WebSocket, SSE, HTTP).

``FaultTransport`` injects faults into the integration's HTTP requests; a socket that must be
cut, blackholed or refused mid-stream (a WebSocket, an SSE stream) needs a real proxy between
the client and a server on a port:

    async with tcp_proxy("127.0.0.1", server_port) as proxy:
        pa = create_integration(base_url=f"http://127.0.0.1:{proxy.port}/api/v1", ...)
        proxy.cut()        # every connection drops, new ones are refused
        proxy.restore()
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
from anyio.abc import SocketStream


class TcpProxy:
    """Forwards connections to ``target``; ``cut()`` drops them all and refuses new ones.

    ``blackhole()`` keeps connections open but lets no byte through either way (a network path
    that swallows packets, with no FIN); ``reject`` drops any connection on which the client
    sends a chunk it returns True for (say, a WebSocket upgrade), leaving the others alone.
    """

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.refusing = False
        self.swallowing = False
        self.reject: Callable[[bytes], bool] | None = None
        self.connections = 0
        self._scopes: set[anyio.CancelScope] = set()

    def cut(self) -> None:
        """Break every open connection and refuse new ones (the target "went away")."""
        self.refusing = True
        for scope in tuple(self._scopes):
            scope.cancel()

    def restore(self) -> None:
        """Let connections through again (undoes ``cut`` and ``blackhole``)."""
        self.refusing = False
        self.swallowing = False

    def blackhole(self) -> None:
        """Let nothing through on open or new connections, without closing any."""
        self.swallowing = True

    async def _handle(self, client: SocketStream) -> None:
        async with client:
            if self.refusing:
                return
            try:
                upstream = await anyio.connect_tcp(*self.target)
            except OSError:
                return
            self.connections += 1
            with anyio.CancelScope() as scope:
                self._scopes.add(scope)
                try:
                    async with upstream, anyio.create_task_group() as pipes:
                        pipes.start_soon(self._pump, client, upstream, pipes.cancel_scope, True)
                        pipes.start_soon(self._pump, upstream, client, pipes.cancel_scope, False)
                finally:
                    self._scopes.discard(scope)

    async def _pump(
        self, source: SocketStream, sink: SocketStream, scope: anyio.CancelScope, outbound: bool
    ) -> None:
        try:
            async for chunk in source:
                if outbound and self.reject is not None and self.reject(chunk):
                    break
                if not self.swallowing:
                    await sink.send(chunk)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            pass
        scope.cancel()


@asynccontextmanager
async def tcp_proxy(host: str, port: int) -> AsyncIterator[TcpProxy]:
    """A ``TcpProxy`` to ``host:port`` listening on a free local port until the block ends."""
    proxy = TcpProxy(host, port)
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    proxy.port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610 - anyio, not Django
    async with listener, anyio.create_task_group() as tasks:
        tasks.start_soon(listener.serve, proxy._handle)
        try:
            yield proxy
        finally:
            tasks.cancel_scope.cancel()
