"""Deliveries: events queued for subscriptions, handed to their callbacks in order.

One task per subscription that has something queued (and only while it has), so a slow
callback never holds up the socket reader or another subscriber. After a subscription's own
callback, each event goes to the global ``on_event`` listeners once (by ``seq``, whatever
number of subscriptions took it), unless the app wrote it itself (``mark_local``).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .._clock import Clock
from .._subscribable import Listeners
from ..types import Event
from ._subscription import Reset, Subscription

logger = logging.getLogger("pyairtable_integration.realtime")

#: How many recently delivered ``seq`` the global listeners remember, to see each event once.
RECENT = 10_000
#: How many (aggregate_id, version) pairs of the app's own writes are remembered.
LOCAL = 10_000


class Deliveries:
    """The delivery tasks of one connection's subscriptions, and the global listeners."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.event_listeners: Listeners[Event] = Listeners("realtime event")
        self.reset_listeners: Listeners[Reset] = Listeners("realtime reset")
        self._recent: OrderedDict[int, None] = OrderedDict()
        self._local: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._tasks: dict[str, asyncio.Task[None]] = {}

    @property
    def running(self) -> bool:
        """Whether a delivery is under way."""
        return any(not task.done() for task in self._tasks.values())

    def mark_local(self, aggregate_id: str, version: int) -> None:
        """Remember that the app itself wrote ``version`` of ``aggregate_id``."""
        self._local[(aggregate_id, version)] = None
        while len(self._local) > LOCAL:
            self._local.popitem(last=False)

    def is_local(self, event: Event) -> bool:
        """Whether ``event`` reports a write the app marked with ``mark_local``."""
        return event.version is not None and (event.aggregate_id, event.version) in self._local

    def soon(self, subscription: Subscription) -> None:
        """Make sure a task hands ``subscription``'s queue to its callback."""
        task = self._tasks.get(subscription.id)
        if task is None or task.done():
            self._tasks[subscription.id] = asyncio.get_running_loop().create_task(
                self._deliver(subscription)
            )

    async def drain(self) -> None:
        """Wait until what was queued is delivered (the caller's own task excepted)."""
        current = asyncio.current_task()
        await asyncio.gather(
            *(task for task in self._tasks.values() if task is not current),
            return_exceptions=True,
        )

    async def aclose(self) -> None:
        """Cancel every delivery under way and wait for them."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    async def _deliver(self, subscription: Subscription) -> None:
        try:
            while subscription.pending and subscription.active:
                item = subscription.pending[0]
                if isinstance(item, Reset):
                    subscription.pending.popleft()
                    await self._notify_reset(subscription, item)
                elif subscription.batch_callback is not None:
                    if subscription.batch_window > 0:
                        await self.clock.sleep(subscription.batch_window)
                    batch: list[Event] = []
                    while subscription.pending and isinstance(subscription.pending[0], Event):
                        event = subscription.pending.popleft()
                        assert isinstance(event, Event)
                        batch.append(event)
                    if subscription.active and batch:
                        subscription.delivered += len(batch)
                        await _call(subscription.batch_callback, batch)
                        for event in batch:
                            await self._notify_event(event)
                else:
                    subscription.pending.popleft()
                    assert isinstance(item, Event)
                    subscription.delivered += 1
                    if subscription.callback is not None:
                        await _call(subscription.callback, item)
                    await self._notify_event(item)
        finally:
            if self._tasks.get(subscription.id) is asyncio.current_task():
                del self._tasks[subscription.id]

    async def _notify_event(self, event: Event) -> None:
        if not self.event_listeners or event.seq in self._recent or self.is_local(event):
            return
        self._recent[event.seq] = None
        while len(self._recent) > RECENT:
            self._recent.popitem(last=False)
        await self.event_listeners.emit_async(event)

    async def _notify_reset(self, subscription: Subscription, reset: Reset) -> None:
        if subscription.on_reset is not None:
            await _call(subscription.on_reset, reset)
        await self.reset_listeners.emit_async(reset)


async def _call(callback: Callable[[Any], object], argument: Any) -> None:
    """Call an app callback (sync or async); its failure is logged, never stops delivery."""
    try:
        result = callback(argument)
        if inspect.isawaitable(result):
            await result
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("realtime callback %r failed", callback)
