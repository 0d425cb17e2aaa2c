"""Optimistic updates: record writes shown at once, then confirmed or rolled back exactly.

``pa.optimistic`` (``OptimisticManager``) applies creates, updates and deletes to the record
cache as pending layers and confirms or rolls them back; ``pa.mutate`` (``Mutations``) does the
apply, the send (``If-Match``, one idempotency key per write) and the reconciliation in one call.
Conflicts (409) are decided by the store's one ``ConflictStrategy``.
"""

from ..store import (
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
from ._manager import (
    TEMPORARY_ID_PREFIX,
    OptimisticManager,
    PendingUpdate,
    UpdateEvent,
    UpdateListener,
    UpdateOutcome,
    is_temporary_id,
    new_temporary_id,
)
from ._mutate import MutationResult, Mutations
from ._target import OptimisticTarget, UpdateKind

__all__ = [
    "MAX_CONFLICT_ROUNDS",
    "STRATEGIES",
    "TEMPORARY_ID_PREFIX",
    "ConflictStrategy",
    "MutationResult",
    "Mutations",
    "OptimisticManager",
    "OptimisticTarget",
    "PendingUpdate",
    "Resolution",
    "Resolver",
    "StrategyName",
    "UpdateEvent",
    "UpdateKind",
    "UpdateListener",
    "UpdateOutcome",
    "conflicting_fields",
    "is_temporary_id",
    "new_temporary_id",
    "resolve_conflict",
    "resolve_delete_conflict",
    "server_changes",
]
