"""The cache: memory LRU with TTL and stale-while-revalidate, shared levels, and records kept
consistent with every change (``pa.cache``)."""

from __future__ import annotations

from ._cache import Cache, Invalidation
from ._keys import RECORD_LIST, TABLE_SCHEMA, USER_PROFILE, WORKSPACE_LIST, Lifetime, Strategies
from ._levels import CacheLevel, RedisCacheLevel, SQLiteCacheLevel, StoredEntry
from ._manager import CacheManager
from ._matcher import FieldInfo, Schema, Undecidable
from ._memory import CacheStats, Entry, MemoryCache
from ._records import ListQuery, OptimisticKind, RecordCache, RecordChange

__all__ = [
    "RECORD_LIST",
    "TABLE_SCHEMA",
    "USER_PROFILE",
    "WORKSPACE_LIST",
    "Cache",
    "CacheLevel",
    "CacheManager",
    "CacheStats",
    "Entry",
    "FieldInfo",
    "Invalidation",
    "Lifetime",
    "ListQuery",
    "MemoryCache",
    "OptimisticKind",
    "RecordCache",
    "RecordChange",
    "RedisCacheLevel",
    "SQLiteCacheLevel",
    "Schema",
    "StoredEntry",
    "Strategies",
    "Undecidable",
]
