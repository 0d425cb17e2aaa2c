"""What an observer sees of a query or a mutation, and how each happening changes it; pure.

Data status (``pending``, ``success``, ``error``: is there data, or did getting it fail) is kept
apart from fetch status (``fetching``, ``idle``, ``paused``: is a request under way), as in
TanStack Query: a refetch that cannot reach the backend leaves the data and its status alone
and pauses, so offline never reads as an error.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Generic, Literal, TypeAlias, TypeVar

from .._errors import APIConnectionError, ServiceError

T = TypeVar("T")
QueryStatus = Literal["pending", "success", "error"]
FetchStatus = Literal["fetching", "idle", "paused"]


@dataclass(frozen=True)
class QueryState(Generic[T]):
    """One snapshot of a live query.

    ``data`` is the last data (kept through refetches, errors and pauses); ``status`` says
    whether there is data (``success``), none yet (``pending``) or the last fetch failed with an
    answer (``error``, with ``error``). ``fetch_status`` is ``fetching`` while a request is under
    way and ``paused`` while the backend cannot be reached. ``is_stale`` is True when the data
    is past its lifetime or was invalidated (a reset, a list the cache dropped); ``is_optimistic``
    when it shows writes the server has not confirmed. ``updated_at`` is when ``data`` last
    changed.
    """

    data: T | None = None
    status: QueryStatus = "pending"
    fetch_status: FetchStatus = "idle"
    error: ServiceError | None = None
    is_stale: bool = True
    is_optimistic: bool = False
    updated_at: datetime | None = None

    @property
    def is_pending(self) -> bool:
        """Whether there is no data yet (and no error)."""
        return self.status == "pending"

    @property
    def is_success(self) -> bool:
        """Whether ``data`` holds the query's data."""
        return self.status == "success"

    @property
    def is_error(self) -> bool:
        """Whether the last fetch failed with an answer (``error``)."""
        return self.status == "error"

    @property
    def is_fetching(self) -> bool:
        """Whether a request is under way."""
        return self.fetch_status == "fetching"

    @property
    def is_paused(self) -> bool:
        """Whether fetching waits for the backend to be reachable again."""
        return self.fetch_status == "paused"


@dataclass(frozen=True)
class Fetch:
    """A request for the query's data was sent."""


@dataclass(frozen=True)
class Pause:
    """The backend is not reachable: fetching waits."""


@dataclass(frozen=True)
class Resolve(Generic[T]):
    """A fetch answered ``data`` at ``at``."""

    data: T
    is_optimistic: bool
    at: datetime


@dataclass(frozen=True)
class Fail:
    """A fetch failed with ``error``."""

    error: ServiceError


@dataclass(frozen=True)
class Change(Generic[T]):
    """The cache's view of the data changed (an event, a local write, an optimistic layer)."""

    data: T
    is_optimistic: bool
    at: datetime


@dataclass(frozen=True)
class Invalidate:
    """The data is known to be out of date (past its lifetime, a reset, dropped by the cache)."""


@dataclass(frozen=True)
class Fresh:
    """The data was read from the cache within its lifetime: it is not stale."""


@dataclass(frozen=True)
class Idle:
    """No fetch is under way any more (cancelled when the last observer left)."""


QueryAction: TypeAlias = Fetch | Pause | Resolve[T] | Fail | Change[T] | Invalidate | Fresh | Idle


def reduce_query(state: QueryState[T], action: QueryAction[T]) -> QueryState[T]:
    """The state after ``action``; ``state`` itself when nothing an observer sees changed."""
    if isinstance(action, Fetch):
        return _changed(state, replace(state, fetch_status="fetching"))
    if isinstance(action, Pause):
        return _changed(state, replace(state, fetch_status="paused"))
    if isinstance(action, Resolve):
        return QueryState(
            data=action.data,
            status="success",
            fetch_status="idle",
            error=None,
            is_stale=False,
            is_optimistic=action.is_optimistic,
            updated_at=action.at,
        )
    if isinstance(action, Fail):
        if isinstance(action.error, APIConnectionError):
            # No answer: the data (or its absence) stands; fetching resumes once reachable.
            return _changed(state, replace(state, fetch_status="paused"))
        return replace(state, status="error", fetch_status="idle", error=action.error)
    if isinstance(action, Change):
        if (
            state.status == "success"
            and state.data == action.data
            and state.is_optimistic == action.is_optimistic
        ):
            return state
        return replace(
            state,
            data=action.data,
            status="success",
            error=None,
            is_optimistic=action.is_optimistic,
            updated_at=action.at,
        )
    if isinstance(action, Invalidate):
        return _changed(state, replace(state, is_stale=True))
    if isinstance(action, Fresh):
        return _changed(state, replace(state, is_stale=False))
    return _changed(state, replace(state, fetch_status="idle"))


def _changed(old: QueryState[T], new: QueryState[T]) -> QueryState[T]:
    return old if new == old else new
