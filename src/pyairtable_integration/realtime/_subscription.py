"""A subscription: what it asks for, where it is in the feed, and its queue of deliveries.

``position`` is the last ``seq`` the subscription has taken (queued for its callback) or been
moved to by a reset; every transport resumes from it (WebSocket ``since``, SSE
``Last-Event-ID``, the event log's ``since``) and anything at or below it is dropped. ``seq`` is
global, so a filtered feed has gaps: exactly once and in order comes from the position only ever
moving forward, not from counting.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..types import Event
from ._frames import Channel, Wanted

FilterKey = Literal["workspace_id", "base_id", "table_id", "aggregate_id"]
FILTER_KEYS: tuple[FilterKey, ...] = ("workspace_id", "base_id", "table_id", "aggregate_id")

EventCallback = Callable[[Event], Awaitable[object] | object]
BatchCallback = Callable[[list[Event]], Awaitable[object] | object]
ResetCallback = Callable[["Reset"], Awaitable[object] | object]


@dataclass(frozen=True)
class Reset:
    """The events after the subscription's position are gone: refetch what it covers.

    Delivery goes on from ``position``.
    """

    subscription_id: str
    position: int


def matches(channel: str, filters: Mapping[str, str], event: Mapping[str, Any]) -> bool:
    """Whether ``event`` is on ``channel`` (``*``: any) and equals every filter."""
    if channel != "*" and event.get("channel") != channel:
        return False
    return all(event.get(key) == value for key, value in filters.items())


def advance(position: int | None, seq: int) -> bool:
    """Whether an event at ``seq`` is new to a subscription at ``position`` (None: anywhere)."""
    return position is None or seq > position


class Subscription:
    """One ``subscribe`` call; pass it to ``unsubscribe`` to stop it.

    Queued items wait in ``pending`` until the delivery task hands them to the callback, so a
    slow callback never holds up the connection that reads the events.
    """

    def __init__(
        self,
        subscription_id: str,
        channel: Channel,
        filters: Mapping[str, str],
        *,
        callback: EventCallback | None = None,
        batch_callback: BatchCallback | None = None,
        batch_window: float = 0.0,
        on_reset: ResetCallback | None = None,
    ) -> None:
        unknown = set(filters) - set(FILTER_KEYS)
        if unknown:
            raise ValueError(f"unknown filters {sorted(unknown)}; use {list(FILTER_KEYS)}")
        self.id = subscription_id
        self.channel: Channel = channel
        self.filters: dict[str, str] = dict(filters)
        self.callback = callback
        self.batch_callback = batch_callback
        self.batch_window = batch_window
        self.on_reset = on_reset
        self.position: int | None = None
        self.active = True
        self.delivered = 0
        self.pending: deque[Event | Reset] = deque()
        self._ready = asyncio.Event()

    def __repr__(self) -> str:
        return (
            f"Subscription(id={self.id!r}, channel={self.channel!r}, filters={self.filters!r}, "
            f"position={self.position})"
        )

    async def wait_ready(self) -> None:
        """Return once the backend serves the subscription (it has a position in the feed).

        Events committed before that moment are not delivered; those after it all are.
        """
        await self._ready.wait()

    def take(self, event: Event) -> bool:
        """Queue ``event`` when it is past the position and matches; True when queued."""
        if not self.active or not advance(self.position, event.seq):
            return False
        if not matches(self.channel, self.filters, event.model_dump(include=_MATCHED)):
            return False
        self.position = event.seq
        self._ready.set()
        self.pending.append(event)
        return True

    def reset(self, position: int) -> Reset:
        """Move to ``position`` after a reset and queue the notice."""
        self.position = position if self.position is None else max(self.position, position)
        self._ready.set()
        notice = Reset(self.id, self.position)
        self.pending.append(notice)
        return notice

    def start_at(self, position: int) -> None:
        """Take ``position`` as the starting point when the subscription has none yet."""
        if self.position is None:
            self.position = position
        self._ready.set()

    def wanted(self) -> Wanted:
        """A snapshot for a transport: what to ask for and where to resume from."""
        return Wanted(self.id, self.channel, dict(self.filters), self.position)

    def catch_up(self, position: int) -> None:
        """Nothing up to ``position`` is missing: move there (never backwards)."""
        if self.active and position > (self.position or 0):
            self.position = position


_MATCHED = {"channel", *FILTER_KEYS}
