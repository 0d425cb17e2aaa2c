"""Request rate limits per client IP and per bearer token (contract §9), on the `limits` library.

Storage is in memory by default; a ``redis://`` storage URL shares the counters between server
processes (redis-py, from the ``redis`` extra). Login failures are limited separately, per account
and per IP, by the auth routes with the same ``Limiter``.

If the counter storage fails (Redis down), requests are let through and the failure is logged:
the API stays available and the limits come back with the storage.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import RateLimiter, SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import RateLimited, envelope, request_id_of

logger = logging.getLogger("pyairtable_server.rate_limit")
KEY_PREFIX = "pyairtable-limits"
Closer = Callable[[], Awaitable[None]]
# A hung Redis must not hang requests: give up quickly and let them through.
REDIS_TIMEOUT_SECONDS = 0.5


def open_storage(url: str, *, key_prefix: str = KEY_PREFIX) -> tuple[Storage, Closer]:
    """An async `limits` storage for ``memory://`` or ``redis://…`` URLs, and how to close it.

    For Redis we own the connection pool (redis-py), so shutdown can release its sockets.
    Raises ``ImportError`` for Redis without the ``redis`` extra installed.
    """
    scheme_url = url if url.startswith("async+") else "async+" + url
    if "redis" not in scheme_url.split("://", 1)[0]:
        storage = storage_from_string(scheme_url, wrap_exceptions=True)
        assert isinstance(storage, Storage)
        return storage, _nothing_to_close
    from redis.asyncio import ConnectionPool  # the `redis` extra; only needed for this storage

    pool = ConnectionPool.from_url(
        url.removeprefix("async+"),
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
    )
    storage = storage_from_string(
        scheme_url,
        wrap_exceptions=True,
        implementation="redispy",
        key_prefix=key_prefix,
        connection_pool=cast(Any, pool),
    )
    assert isinstance(storage, Storage)
    return storage, pool.aclose


async def _nothing_to_close() -> None:
    return None


@dataclass(frozen=True)
class Limit:
    """One named limit: ``item`` in `limits` terms, checked under ``namespace:<identifier>``."""

    namespace: str
    item: RateLimitItem

    @classmethod
    def parse(cls, namespace: str, text: str) -> Limit:
        return cls(namespace, parse(text))


class Limiter:
    """Counts hits against limits; raises ``RateLimited`` with the seconds until one frees up."""

    def __init__(self, storage: Storage, close: Closer = _nothing_to_close) -> None:
        self.storage = storage
        self._strategy: RateLimiter = SlidingWindowCounterRateLimiter(storage)
        self._close = close

    @classmethod
    def from_url(cls, url: str, *, key_prefix: str = KEY_PREFIX) -> Limiter:
        storage, close = open_storage(url, key_prefix=key_prefix)
        return cls(storage, close)

    async def aclose(self) -> None:
        """Release the storage's connections (Redis); memory storage has none."""
        await self._close()

    async def hit(self, limit: Limit, identifier: str) -> None:
        """Count one hit. Raises ``RateLimited`` if the limit was already used up."""
        if not await self._allowed(self._strategy.hit, limit, identifier):
            raise RateLimited(await self.retry_after(limit, identifier))

    async def check(self, limit: Limit, identifier: str) -> None:
        """Raise ``RateLimited`` if the limit is used up, without counting a hit."""
        if not await self._allowed(self._strategy.test, limit, identifier):
            raise RateLimited(await self.retry_after(limit, identifier))

    async def _allowed(
        self, ask: Callable[..., Awaitable[bool]], limit: Limit, identifier: str
    ) -> bool:
        try:
            return await ask(limit.item, limit.namespace, identifier)
        except StorageError as exc:
            logger.warning("rate-limit storage failed; letting the request through: %s", exc)
            return True

    async def count(self, limit: Limit, identifier: str) -> None:
        """Count one hit, never raising (for failures that are checked on the next attempt)."""
        try:
            await self._strategy.hit(limit.item, limit.namespace, identifier)
        except StorageError as exc:
            logger.warning("rate-limit storage failed; hit not counted: %s", exc)

    async def clear(self, limit: Limit, identifier: str) -> None:
        try:
            await self._strategy.clear(limit.item, limit.namespace, identifier)
        except StorageError as exc:
            logger.warning("rate-limit storage failed; counter not cleared: %s", exc)

    async def retry_after(self, limit: Limit, identifier: str) -> float:
        """Seconds until the limit frees up (at least 1; the whole window if storage fails)."""
        try:
            stats = await self._strategy.get_window_stats(limit.item, limit.namespace, identifier)
        except StorageError:
            return float(limit.item.get_expiry())
        return max(1.0, stats.reset_time - time.time())


def client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _bearer_token(scope: Scope) -> str | None:
    for key, value in scope["headers"]:
        if key == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


class RateLimitMiddleware:
    """Applies the per-IP limit to every request and the per-token limit to authenticated ones.

    A WebSocket handshake is a request too: it counts against the per-IP limit, and one past it
    is refused with the 429 envelope (the ASGI denial-response extension; a server without it
    answers the refused handshake 403).
    """

    def __init__(self, app: ASGIApp, *, limiter: Limiter, per_ip: Limit, per_token: Limit) -> None:
        self.app = app
        self.limiter = limiter
        self.per_ip = per_ip
        self.per_token = per_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._handshake(scope, receive, send)
            return
        if scope["type"] != "http" or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        try:
            await self.limiter.hit(self.per_ip, client_ip(scope))
            token = _bearer_token(scope)
            if token is not None:
                # Keyed by a digest: counters may live in a shared Redis, tokens must not.
                digest = hashlib.blake2b(token.encode(), digest_size=16).hexdigest()
                await self.limiter.hit(self.per_token, digest)
        except RateLimited as exc:
            await _refusal(exc, scope)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _handshake(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.limiter.hit(self.per_ip, client_ip(scope))
        except RateLimited as exc:
            if "websocket.http.response" not in scope.get("extensions", {}):
                await send({"type": "websocket.close", "code": 1008})
                return
            # Starlette sends a response on a websocket scope as the denial response.
            await _refusal(exc, scope)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _refusal(exc: RateLimited, scope: Scope) -> ASGIApp:
    return envelope(
        exc.status_code,
        exc.type,
        exc.message,
        request_id=request_id_of(scope),
        details=exc.details,
        headers=exc.headers,
    )
