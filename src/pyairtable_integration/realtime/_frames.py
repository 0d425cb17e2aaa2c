"""What a transport reads off the wire, as data: the frames the connection applies.

Each transport (``_websocket``, ``_sse_stream``, ``_polling``) is an async iterator of these
frames and knows nothing of the connection: it is given a snapshot of the subscriptions to serve
(``Wanted``, positions included) and yields what arrived. The connection alone applies a frame
to its subscriptions (``_registry``), which is where every invariant lives: an event is taken
once, in order, and a position only ever moves forward.

A frame addressed to no subscription (``subscription_id`` None) is for every subscription the
transport was opened for: one SSE stream or one read of the event log serves them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..types import Event

Channel = Literal["*", "record", "table", "field", "view", "base", "workspace"]
#: Filters the event log answers itself; the others are applied by the client when polling.
LOG_FILTER_KEYS: frozenset[str] = frozenset({"workspace_id", "table_id"})


@dataclass(frozen=True)
class Wanted:
    """A subscription as a transport sees it: what to ask for and where to resume from."""

    id: str
    channel: Channel
    filters: Mapping[str, str] = field(default_factory=dict)
    #: The last ``seq`` taken (or moved to); None: from wherever the backend starts it.
    position: int | None = None

    def log_filters(self) -> dict[str, str]:
        """The filters the event log applies itself."""
        return {key: value for key, value in self.filters.items() if key in LOG_FILTER_KEYS}


@dataclass(frozen=True)
class Opened:
    """The transport now delivers events (authenticated and subscribed, or answered)."""


@dataclass(frozen=True)
class Delivered:
    """An event, for one subscription or for every one it may match."""

    event: Event
    subscription_id: str | None = None


@dataclass(frozen=True)
class Confirmed:
    """The backend serves the subscription from ``position`` (taken if it had none)."""

    position: int
    subscription_id: str | None = None


@dataclass(frozen=True)
class Missed:
    """The events after the position are gone from the log: go on from ``position``."""

    position: int
    subscription_id: str | None = None


@dataclass(frozen=True)
class Refused:
    """The backend refused the subscription (not, or no longer, allowed to see it)."""

    error: Mapping[str, Any]
    subscription_id: str | None = None


@dataclass(frozen=True)
class CaughtUp:
    """Nothing up to ``position`` is missing (the event log's ``next_since``)."""

    position: int


Frame = Opened | Delivered | Confirmed | Missed | Refused | CaughtUp


def shared_query(wanted: list[Wanted], *, log_only: bool) -> dict[str, Any]:
    """The channel and filters every one of ``wanted`` has (nothing when they differ).

    ``log_only``: only the filters the event log applies itself (polling); SSE takes them all.
    """
    if not wanted:
        return {}
    first = wanted[0]
    filters = first.log_filters() if log_only else dict(first.filters)
    for other in wanted[1:]:
        theirs = other.log_filters() if log_only else dict(other.filters)
        if other.channel != first.channel or theirs != filters:
            return {}
    query: dict[str, Any] = dict(filters)
    if first.channel != "*":
        query["channel"] = first.channel
    return query


def lowest(wanted: list[Wanted]) -> int:
    """Where one reader for all of ``wanted`` resumes: the lowest position."""
    return min(each.position or 0 for each in wanted)
