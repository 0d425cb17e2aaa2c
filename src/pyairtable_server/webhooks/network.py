"""Outbound connections for deliveries: every address a name resolves to is checked, then pinned.

A check made before the request is not enough: the HTTP client would resolve the name again to
connect, and a name can answer a public address to the check and 127.0.0.1 to the connection
(DNS rebinding). So names are resolved here, inside the connection pool's network backend: asked
to connect to (host, port), it resolves the name once, refuses the whole answer when any address
is not public (``targets.check_address``), and connects to the checked addresses only. The pool
still knows each connection by the URL's host, so the ``Host`` header, TLS SNI and certificate
verification all use the name in the URL, and a pooled connection stays on the address that was
checked when it was opened.

httpx2's ``AsyncHTTPTransport`` takes no network backend (encode/httpx#3749 proposes it), hence
the small transport below around httpcore2's public connection pool. It has no proxy support on
purpose: deliveries never go through the server's ambient proxy settings.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from ipaddress import ip_address

import anyio
import httpcore2
import httpx2

from .targets import TargetRefused, check_address

#: Resolves (host, port) to the addresses to connect to, in the order to try them.
Resolver = Callable[[str, int], Awaitable[list[str]]]


class BlockedTarget(httpcore2.ConnectError):
    """A connection refused before it was made: the name resolved to a non-public address."""


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for ``host`` (without repeats), in its order.

    Raises ``OSError`` (``socket.gaierror``) when the name does not resolve.
    """
    answers = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(sockaddr[0]) for *_, sockaddr in answers))


class _PinningBackend(httpcore2.AsyncNetworkBackend):
    def __init__(self, *, allow_private: bool, resolver: Resolver) -> None:
        self._allow_private = allow_private
        self._resolver = resolver
        self._backend = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore2's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                answers = await self._resolver(host, port)
        except TimeoutError as exc:
            raise httpcore2.ConnectTimeout(f"resolving {host!r} timed out") from exc
        except OSError as exc:
            raise httpcore2.ConnectError(f"{host!r} does not resolve") from exc
        if not answers:
            raise httpcore2.ConnectError(f"{host!r} resolves to nothing")
        if not self._allow_private:
            try:
                for answer in answers:
                    check_address(ip_address(answer))
            except (TargetRefused, ValueError) as exc:
                raise BlockedTarget(f"{host!r}: {exc}") from exc
        failure: Exception | None = None
        for answer in answers:  # a numeric host: connecting resolves nothing more
            try:
                return await self._backend.connect_tcp(
                    answer,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore2's interface)
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        raise BlockedTarget("deliveries go over TCP only")

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


class _ResponseStream(httpx2.AsyncByteStream):
    def __init__(self, stream: AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            await close()


class PinnedTransport(httpx2.AsyncBaseTransport):
    """An httpx2 transport that connects only to checked addresses (see the module docstring).

    ``allow_private`` skips the address check (local development and tests); ``resolver`` and
    ``ssl_context`` replace the system's (tests). httpcore2's own exceptions pass through
    unmapped: every failure to get an answer is one outcome to the sender.
    """

    def __init__(
        self,
        *,
        allow_private: bool,
        resolver: Resolver = system_resolver,
        ssl_context: ssl.SSLContext | None = None,
        limits: httpx2.Limits | None = None,
    ) -> None:
        limits = limits or httpx2.Limits()
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=ssl_context or httpx2.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_PinningBackend(allow_private=allow_private, resolver=resolver),
        )

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        assert isinstance(request.stream, httpx2.AsyncByteStream)
        response = await self._pool.handle_async_request(
            httpcore2.Request(
                method=request.method,
                url=httpcore2.URL(
                    scheme=request.url.raw_scheme,
                    host=request.url.raw_host,
                    port=request.url.port,
                    target=request.url.raw_path,
                ),
                headers=request.headers.raw,
                content=request.stream,
                extensions=request.extensions,
            )
        )
        assert isinstance(response.stream, AsyncIterable)
        return httpx2.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()
