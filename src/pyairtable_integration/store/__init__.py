"""The store: what the client holds between requests (the query-core analogue; async only).

Keys (``KEYS``), the memory and shared levels (``CacheManager``), the normalized record layer
(records, lists, optimistic overlay) and the read-through the service clients' answers pass
(``Cache``), fed by the realtime event feed (``Invalidation``). It never imports the
integration, realtime, a UI or the web adapters.
"""

from __future__ import annotations

from ._cache import Cache, Invalidation
from ._conflict import (
    MAX_CONFLICT_ROUNDS,
    STRATEGIES,
    ConflictStrategy,
    Resolution,
    Resolver,
    StrategyName,
    conflicting_fields,
    resolve_conflict,
    resolve_delete_conflict,
    server_changes,
)
from ._keys import (
    KEYS,
    RECORD_LIST,
    TABLE_SCHEMA,
    USER_PROFILE,
    WORKSPACE_LIST,
    Lifetime,
    Strategies,
)
from ._levels import CacheLevel, RedisCacheLevel, SQLiteCacheLevel, StoredEntry
from ._lists import ListQuery
from ._manager import CacheManager
from ._matcher import FieldInfo, Schema, Undecidable
from ._memory import CacheStats, Entry, MemoryCache
from ._mutation import (
    Failed,
    MutationAction,
    MutationState,
    MutationStatus,
    Paused,
    RecordMutation,
    Reset,
    Started,
    Succeeded,
    reduce_mutation,
)
from ._mutation_cache import MutationCache, MutationEvent
from ._operations import (
    OPERATIONS,
    Operation,
    OutboxOperation,
    check_arguments,
    records_touched,
)
from ._operations import parse as parse_operation
from ._operations import send as send_operation
from ._overlay import OptimisticKind
from ._read_through import (
    CachedRecordService,
    CachedServices,
    CachedTableService,
    CachedUserService,
    CachedWorkspaceService,
)
from ._record_cache import RecordCache, RecordChange

__all__ = [
    "KEYS",
    "MAX_CONFLICT_ROUNDS",
    "OPERATIONS",
    "RECORD_LIST",
    "STRATEGIES",
    "TABLE_SCHEMA",
    "USER_PROFILE",
    "WORKSPACE_LIST",
    "Cache",
    "CacheLevel",
    "CacheManager",
    "CacheStats",
    "CachedRecordService",
    "CachedServices",
    "CachedTableService",
    "CachedUserService",
    "CachedWorkspaceService",
    "ConflictStrategy",
    "Entry",
    "Failed",
    "FieldInfo",
    "Invalidation",
    "Lifetime",
    "ListQuery",
    "MemoryCache",
    "MutationAction",
    "MutationCache",
    "MutationEvent",
    "MutationState",
    "MutationStatus",
    "Operation",
    "OptimisticKind",
    "OutboxOperation",
    "Paused",
    "RecordCache",
    "RecordChange",
    "RecordMutation",
    "RedisCacheLevel",
    "Reset",
    "Resolution",
    "Resolver",
    "SQLiteCacheLevel",
    "Schema",
    "Started",
    "StoredEntry",
    "Strategies",
    "StrategyName",
    "Succeeded",
    "Undecidable",
    "check_arguments",
    "conflicting_fields",
    "parse_operation",
    "records_touched",
    "reduce_mutation",
    "resolve_conflict",
    "resolve_delete_conflict",
    "send_operation",
    "server_changes",
]
