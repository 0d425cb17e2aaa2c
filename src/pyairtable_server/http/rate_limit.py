"""Request rate limits per client IP and per bearer token (contract §9), on the `limits` library.

Storage is in memory by default; a ``redis://`` storage URL shares the counters between server
processes. Login failures are limited separately, per account and per IP (see ``LoginThrottle``).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import RateLimiter, SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import RateLimited, envelope, request_id_of


def open_storage(url: str) -> Storage:
    """An async `limits` storage for ``memory://`` or ``redis://…`` URLs."""
    storage = storage_from_string(url if url.startswith("async+") else "async+" + url)
    assert isinstance(storage, Storage)
    return storage


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

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._strategy: RateLimiter = SlidingWindowCounterRateLimiter(storage)

    async def hit(self, limit: Limit, identifier: str) -> None:
        """Count one hit. Raises ``RateLimited`` if the limit was already used up."""
        if not await self._strategy.hit(limit.item, limit.namespace, identifier):
            raise RateLimited(await self.retry_after(limit, identifier))

    async def check(self, limit: Limit, identifier: str) -> None:
        """Raise ``RateLimited`` if the limit is used up, without counting a hit."""
        if not await self._strategy.test(limit.item, limit.namespace, identifier):
            raise RateLimited(await self.retry_after(limit, identifier))

    async def count(self, limit: Limit, identifier: str) -> None:
        """Count one hit, never raising (for failures that are checked on the next attempt)."""
        await self._strategy.hit(limit.item, limit.namespace, identifier)

    async def clear(self, limit: Limit, identifier: str) -> None:
        await self._strategy.clear(limit.item, limit.namespace, identifier)

    async def retry_after(self, limit: Limit, identifier: str) -> float:
        stats = await self._strategy.get_window_stats(limit.item, limit.namespace, identifier)
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
    """Applies the per-IP limit to every request and the per-token limit to authenticated ones."""

    def __init__(self, app: ASGIApp, *, limiter: Limiter, per_ip: Limit, per_token: Limit) -> None:
        self.app = app
        self.limiter = limiter
        self.per_ip = per_ip
        self.per_token = per_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
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
            response = envelope(
                exc.status_code,
                exc.type,
                exc.message,
                request_id=request_id_of(scope),
                details=exc.details,
                headers=exc.headers,
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
