"""The cache: memory LRU with TTL and stale-while-revalidate, shared levels, and records kept
consistent with every change (``pa.cache``).

The implementation lives in ``store``; this is the original design's import path for it.
"""

from __future__ import annotations

from ..store import (
    RECORD_LIST,
    TABLE_SCHEMA,
    USER_PROFILE,
    WORKSPACE_LIST,
    Cache,
    CacheLevel,
    CacheManager,
    CacheStats,
    Entry,
    FieldInfo,
    Invalidation,
    Lifetime,
    ListQuery,
    MemoryCache,
    OptimisticKind,
    RecordCache,
    RecordChange,
    RedisCacheLevel,
    Schema,
    SQLiteCacheLevel,
    StoredEntry,
    Strategies,
    Undecidable,
)

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
