"""A TCP proxy the test controls, to inject faults between a server and what it talks to."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from anyio.abc import SocketStream


class TcpProxy:
    """Forwards connections to ``target``; ``cut()`` drops them all and refuses new ones."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.refusing = False
        self.connections = 0
        self._scopes: set[anyio.CancelScope] = set()

    def cut(self) -> None:
        """Break every open connection and refuse new ones (the target "went away")."""
        self.refusing = True
        for scope in tuple(self._scopes):
            scope.cancel()

    def restore(self) -> None:
        self.refusing = False

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
                        pipes.start_soon(_pump, client, upstream, pipes.cancel_scope)
                        pipes.start_soon(_pump, upstream, client, pipes.cancel_scope)
                finally:
                    self._scopes.discard(scope)


async def _pump(source: SocketStream, sink: SocketStream, scope: anyio.CancelScope) -> None:
    try:
        async for chunk in source:
            await sink.send(chunk)
    except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        pass
    scope.cancel()


@asynccontextmanager
async def tcp_proxy(host: str, port: int) -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy(host, port)
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    proxy.port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as tasks:
        tasks.start_soon(listener.serve, proxy._handle)
        try:
            yield proxy
        finally:
            tasks.cancel_scope.cancel()
