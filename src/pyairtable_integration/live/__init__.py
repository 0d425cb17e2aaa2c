"""Live queries and mutations for UI code: subscribe, get every change (``pa.live``).

The framework-agnostic observer layer (TanStack Query's query-core split: ``LiveQuery``
entities in a ``QueryCache``, observers subscribed to them; the same for ``LiveMutation``).
It imports no UI framework; ``pyairtable_integration.ui`` adapts it to one.
"""

from __future__ import annotations

from ..store import MutationState, MutationStatus
from ._connection import ConnectionView, LiveConnection
from ._live import Live
from ._mutation import LiveMutation
from ._query import LiveQuery, QueryKey, Snapshot
from ._query_cache import QueryCache
from ._state import FetchStatus, QueryState, QueryStatus

__all__ = [
    "ConnectionView",
    "FetchStatus",
    "Live",
    "LiveConnection",
    "LiveMutation",
    "LiveQuery",
    "MutationState",
    "MutationStatus",
    "QueryCache",
    "QueryKey",
    "QueryState",
    "QueryStatus",
    "Snapshot",
]
