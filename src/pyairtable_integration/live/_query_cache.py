"""The collection of live queries: one per key, shared by every observer of that key."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from ._query import LiveQuery, QueryKey

T = TypeVar("T")


class QueryCache:
    """Live queries by key (``pa.live.queries``).

    A query is held strongly only while it is attached (it has observers, or its gc delay
    runs); a query built but never subscribed to, or released, is held weakly, so building one
    on every render of a component leaks nothing.
    """

    def __init__(self) -> None:
        self._by_key: weakref.WeakValueDictionary[QueryKey, LiveQuery[Any]] = (
            weakref.WeakValueDictionary()
        )
        self._attached: dict[int, LiveQuery[Any]] = {}

    def __repr__(self) -> str:
        return f"QueryCache(attached={len(self._attached)})"

    def __len__(self) -> int:
        """How many queries are attached."""
        return len(self._attached)

    def build(self, key: QueryKey, make: Callable[[], LiveQuery[T]]) -> LiveQuery[T]:
        """The query of ``key``, made by ``make()`` when there is none yet."""
        query = self._by_key.get(key)
        if query is None:
            query = make()
            self._by_key[key] = query
        return query

    def get(self, key: QueryKey) -> LiveQuery[Any] | None:
        """The query of ``key``, if one exists."""
        return self._by_key.get(key)

    def attached(self, query: LiveQuery[Any]) -> None:
        """``query`` got its first observer: hold it while it listens."""
        self._attached[id(query)] = query
        if self._by_key.get(query.key) is None:
            self._by_key[query.key] = query

    def released(self, query: LiveQuery[Any]) -> None:
        """``query`` stopped listening: it is held only by whoever still refers to it."""
        self._attached.pop(id(query), None)

    def all(self) -> list[LiveQuery[Any]]:
        """Every attached query."""
        return list(self._attached.values())

    def resume(self) -> None:
        """The backend is reachable again: paused and stale queries fetch."""
        for query in self.all():
            query.resume()
