"""The memory level: an LRU map bounded by entry count, with TTL, stale-while-revalidate and tags.

Pure: time comes in as numbers (the owner reads its ``Clock``), so every rule is tested without
an event loop.
"""

from __future__ import annotations

import fnmatch
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Freshness = Literal["fresh", "stale", "expired"]


@dataclass
class Entry:
    """One cached value: fresh until ``fresh_until``, servable stale until ``stale_until``."""

    value: Any
    fresh_until: float
    stale_until: float
    tags: frozenset[str] = frozenset()

    def freshness(self, now: float) -> Freshness:
        """Fresh, stale (serve and revalidate) or expired (fetch first) at ``now``."""
        if now < self.fresh_until:
            return "fresh"
        return "stale" if now < self.stale_until else "expired"


@dataclass
class CacheStats:
    """Counters of a cache: lookups that hit or missed, entries held and evicted."""

    hits: int = 0
    misses: int = 0
    stale_hits: int = 0
    evictions: int = 0
    size: int = 0
    max_size: int = 0
    revalidations: int = 0
    revalidation_errors: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def hit_ratio(self) -> float:
        """Hits (fresh or stale) over lookups; 0.0 before the first lookup."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0


class MemoryCache:
    """Entries by key, least recently used first out once ``max_size`` is reached.

    Raises:
        ValueError: ``max_size`` is not positive.
    """

    def __init__(self, max_size: int) -> None:
        if max_size <= 0:
            raise ValueError("max_size must be positive")
        self.max_size = max_size
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self.stats = CacheStats(max_size=max_size)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"MemoryCache(size={len(self._entries)}, max_size={self.max_size})"

    def lookup(self, key: str, now: float) -> Entry | None:
        """The entry for ``key`` unless expired (an expired one is dropped); counts hit or miss."""
        entry = self._entries.get(key)
        if entry is None or entry.freshness(now) == "expired":
            if entry is not None:
                del self._entries[key]
            self.stats.misses += 1
            self.stats.size = len(self._entries)
            return None
        self._entries.move_to_end(key)
        self.stats.hits += 1
        if entry.freshness(now) == "stale":
            self.stats.stale_hits += 1
        return entry

    def peek(self, key: str) -> Entry | None:
        """The entry for ``key`` whatever its age, without counting or reordering."""
        return self._entries.get(key)

    def put(
        self,
        key: str,
        value: Any,
        now: float,
        *,
        ttl: float,
        swr: float = 0.0,
        tags: Iterable[str] = (),
    ) -> Entry:
        """Store ``value`` fresh for ``ttl`` then stale for ``swr``; evicts the least recent."""
        entry = Entry(value, now + ttl, now + ttl + swr, frozenset(tags))
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_size:
            self._entries.popitem(last=False)
            self.stats.evictions += 1
        self.stats.size = len(self._entries)
        return entry

    def delete(self, key: str) -> bool:
        """Drop ``key``; whether it was there."""
        found = self._entries.pop(key, None) is not None
        self.stats.size = len(self._entries)
        return found

    def invalidate_prefix(self, prefix: str) -> list[str]:
        """Drop every key starting with ``prefix``; the keys dropped."""
        return self._drop([key for key in self._entries if key.startswith(prefix)])

    def invalidate_pattern(self, pattern: str) -> list[str]:
        """Drop every key matching the glob ``pattern`` (``records:*:list:*``); the keys dropped."""
        return self._drop([key for key in self._entries if fnmatch.fnmatchcase(key, pattern)])

    def invalidate_tag(self, tag: str) -> list[str]:
        """Drop every entry carrying ``tag``; the keys dropped."""
        return self._drop([key for key, entry in self._entries.items() if tag in entry.tags])

    def mark_stale(self, now: float) -> None:
        """Make every entry at most stale (servable within its SWR window, never fresh)."""
        for entry in self._entries.values():
            entry.fresh_until = min(entry.fresh_until, now)

    def clear(self) -> None:
        """Drop everything."""
        self._entries.clear()
        self.stats.size = 0

    def keys(self) -> list[str]:
        """Every key, least recently used first."""
        return list(self._entries)

    def _drop(self, keys: list[str]) -> list[str]:
        for key in keys:
            del self._entries[key]
        self.stats.size = len(self._entries)
        return keys
