"""The cache manager: memory first, then the shared levels, with stale-while-revalidate.

A fresh hit is answered at once. A stale hit (past its TTL, within its SWR window) is answered at
once too and refreshed by one background task per key, owned here and cancelled by ``aclose()``;
a failed refresh is counted in the stats and kept in ``last_error``. Anything older is fetched
before answering.

Every read served from or missed in any level (memory, a shared level, the record layer) is
counted here, by ``count_read``, and only here; ``get_stats()`` answers a copy.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from .._clock import Clock
from ._keys import Lifetime
from ._levels import CacheLevel, StoredEntry
from ._memory import CacheStats, MemoryCache

T = TypeVar("T")
logger = logging.getLogger("pyairtable_integration.cache")
_bypassed: contextvars.ContextVar[bool] = contextvars.ContextVar("cache_bypassed", default=False)


class CacheManager:
    """Entries by key across levels (``pa.cache.manager``); values are JSON-able."""

    def __init__(self, clock: Clock, *, max_size: int, levels: Iterable[CacheLevel] = ()) -> None:
        self._clock = clock
        self.memory = MemoryCache(max_size)
        self._stats = CacheStats(max_size=max_size)
        self.levels: list[CacheLevel] = list(levels)
        self._revalidating: dict[str, asyncio.Task[None]] = {}
        self._chores: set[asyncio.Task[None]] = set()
        self.last_error: BaseException | None = None
        self.enabled = True
        # Whose entries these are: keys in the shared levels are prefixed with it, so one
        # SQLite file or Redis server never serves one user's answers to another.
        self.scope = ""

    def __repr__(self) -> str:
        return f"CacheManager(memory={self.memory!r}, levels={self.levels!r})"

    @property
    def bypassed(self) -> bool:
        """Whether reads skip the cache here (off, or inside ``bypass()``)."""
        return not self.enabled or _bypassed.get()

    @contextmanager
    def bypass(self) -> Iterator[None]:
        """Within this block (this task and those it starts), reads go to the network."""
        token = _bypassed.set(True)
        try:
            yield
        finally:
            _bypassed.reset(token)

    def scope_to(self, scope: str) -> None:
        """Serve ``scope``'s entries from now on (the signed-in user's id; ``""`` for none).

        A change of scope drops the memory level and cancels refreshes under way, since they
        hold the previous user's answers; the shared levels keep each scope's entries apart.
        """
        if scope == self.scope:
            return
        self.scope = scope
        self.memory.clear()
        for task in self._revalidating.values():
            task.cancel()
        self._revalidating.clear()

    def _shared(self, key: str) -> str:
        return f"{self.scope}\x1f{key}"

    def clock_now(self) -> float:
        """The monotonic time the memory level's deadlines are counted on."""
        return self._clock.monotonic()

    def get_stats(self) -> CacheStats:
        """A copy of the counters now: hits, misses, hit ratio, stale hits, size, evictions and
        revalidations so far (compare two copies to see what happened in between)."""
        return dataclasses.replace(
            self._stats,
            size=len(self.memory),
            evictions=self.memory.stats.evictions,
            extra=dict(self._stats.extra),
        )

    def count_read(self, *, hit: bool, stale: bool = False) -> None:
        """Count one read: served from a level (``hit``; ``stale`` within its SWR window) or not.

        The one place reads are counted, whichever level (or the record layer) answered.
        """
        if hit:
            self._stats.hits += 1
            if stale:
                self._stats.stale_hits += 1
        else:
            self._stats.misses += 1

    async def get_or_fetch(
        self,
        key: str,
        fetch: Callable[[], Awaitable[Any]],
        *,
        lifetime: Lifetime,
        tags: Iterable[str] = (),
    ) -> Any:
        """The value of ``key``: cached when fresh or within SWR (refreshed behind), else fetched.

        Raises:
            Exception: whatever ``fetch`` raises when the value had to be fetched.
        """
        if self.bypassed:
            return await fetch()
        now = self._clock.monotonic()
        entry = self.memory.lookup(key, now)
        if entry is None:
            entry = await self._from_levels(key, now, tags)
        if entry is not None:
            stale = entry.freshness(now) == "stale"
            self.count_read(hit=True, stale=stale)
            if stale:
                self._revalidate(key, fetch, lifetime, tags)
            return entry.value
        self.count_read(hit=False)
        value = await fetch()
        await self.put(key, value, lifetime=lifetime, tags=tags)
        return value

    async def put(
        self, key: str, value: Any, *, lifetime: Lifetime, tags: Iterable[str] = ()
    ) -> None:
        """Store ``value`` in memory and every shared level."""
        self.memory.put(
            key, value, self._clock.monotonic(), ttl=lifetime.ttl, swr=lifetime.swr, tags=tags
        )
        wall = self._clock.now().timestamp()
        stored = StoredEntry(value, wall + lifetime.ttl, wall + lifetime.ttl + lifetime.swr)
        for level in self.levels:
            await level.set(self._shared(key), stored)

    async def invalidate(self, prefix: str) -> None:
        """Drop every entry whose key starts with ``prefix``, in every level."""
        self.memory.invalidate_prefix(prefix)
        for level in self.levels:
            await level.delete_prefix(self._shared(prefix))

    def invalidate_soon(self, prefix: str) -> None:
        """Drop ``prefix`` from memory now and from the shared levels in an owned task."""
        self.memory.invalidate_prefix(prefix)
        if self.levels:
            self._spawn(self._levels_delete(prefix))

    def invalidate_pattern(self, pattern: str) -> list[str]:
        """Drop the memory entries whose key matches the glob ``pattern``; the keys dropped."""
        return self.memory.invalidate_pattern(pattern)

    def invalidate_tag(self, tag: str) -> list[str]:
        """Drop the memory entries carrying ``tag``; the keys dropped."""
        return self.memory.invalidate_tag(tag)

    async def clear(self) -> None:
        """Drop everything of the current scope, in every level."""
        self.memory.clear()
        for level in self.levels:
            await level.delete_prefix(self._shared(""))

    async def settle(self) -> None:
        """Wait until the background refreshes and level deletions under way have finished."""
        while self._revalidating or self._chores:
            await asyncio.gather(
                *self._revalidating.values(), *self._chores, return_exceptions=True
            )

    async def aclose(self) -> None:
        """Cancel the background refreshes and close the shared levels."""
        tasks = [*self._revalidating.values(), *self._chores]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._revalidating.clear()
        self._chores.clear()
        for level in self.levels:
            await level.aclose()

    async def _from_levels(self, key: str, now: float, tags: Iterable[str]) -> Any:
        wall = self._clock.now().timestamp()
        for level in self.levels:
            stored = await level.get(self._shared(key), wall)
            if stored is None:
                continue
            # Promote to memory with what is left of its lifetimes, on the monotonic clock.
            fresh = max(0.0, stored.fresh_until - wall)
            stale = max(0.0, stored.stale_until - wall - fresh)
            return self.memory.put(key, stored.value, now, ttl=fresh, swr=stale, tags=tags)
        return None

    def _revalidate(
        self,
        key: str,
        fetch: Callable[[], Awaitable[Any]],
        lifetime: Lifetime,
        tags: Iterable[str],
    ) -> None:
        if key in self._revalidating:
            return  # single flight: one refresh per key at a time
        task = asyncio.create_task(self._refresh(key, fetch, lifetime, tuple(tags)))
        self._revalidating[key] = task

    async def _refresh(
        self,
        key: str,
        fetch: Callable[[], Awaitable[Any]],
        lifetime: Lifetime,
        tags: tuple[str, ...],
    ) -> None:
        try:
            value = await fetch()
            await self.put(key, value, lifetime=lifetime, tags=tags)
            self._stats.revalidations += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The stale value stays servable; the failure is visible in the stats and here.
            self._stats.revalidation_errors += 1
            self.last_error = exc
            logger.warning("refreshing cache entry %s failed: %s", key, exc)
        finally:
            self._revalidating.pop(key, None)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    async def _levels_delete(self, prefix: str) -> None:
        try:
            for level in self.levels:
                await level.delete_prefix(self._shared(prefix))
        except Exception as exc:
            self.last_error = exc
            logger.warning("invalidating %s in a shared cache level failed: %s", prefix, exc)
