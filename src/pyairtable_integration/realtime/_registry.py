"""The subscriptions of one connection, and the one place frames change them.

Every transport yields frames (``_frames``); ``Subscriptions.apply`` is the only code that moves
a subscription's position or queues something for it, so the invariants hold whatever the
transport and however often it changes: an event is taken once and in ``seq`` order (a
position only moves forward, ``Subscription.take``), a reset moves to the log's head, and a
refused subscription stops for good.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .._ids import check_any_id, check_request_ids
from ._delivery import Deliveries
from ._frames import CaughtUp, Channel, Confirmed, Delivered, Frame, Missed, Opened, Refused
from ._subscription import (
    BatchCallback,
    EventCallback,
    ResetCallback,
    Subscription,
)

logger = logging.getLogger("pyairtable_integration.realtime")


class Subscriptions:
    """The active subscriptions by id; ``changed`` is set whenever one comes or goes.

    ``on_added(subscription)`` and ``on_removed(subscription_id)`` tell the connection, which
    subscribes or unsubscribes on a live socket.
    """

    def __init__(
        self,
        deliveries: Deliveries,
        *,
        on_added: Callable[[Subscription], object],
        on_removed: Callable[[str], object],
    ) -> None:
        self.deliveries = deliveries
        #: Set when subscriptions come or go (a fallback transport restarts to follow).
        self.changed = asyncio.Event()
        self._by_id: dict[str, Subscription] = {}
        self._on_added = on_added
        self._on_removed = on_removed

    def __len__(self) -> int:
        return len(self._by_id)

    def add(
        self,
        channel: Channel,
        filters: Mapping[str, str],
        *,
        callback: EventCallback | None = None,
        batch_callback: BatchCallback | None = None,
        batch_window: float = 0.0,
        on_reset: ResetCallback | None = None,
    ) -> Subscription:
        """Register a subscription.

        Raises:
            InvalidIdError: a filter's value is not an id of its type.
            ValueError: an unknown filter name.
        """
        check_request_ids(filters)
        if filters.get("aggregate_id") is not None:
            check_any_id(filters["aggregate_id"], parameter="aggregate_id")
        subscription = Subscription(
            f"sub_{secrets.token_hex(6)}",
            channel,
            filters,
            callback=callback,
            batch_callback=batch_callback,
            batch_window=batch_window,
            on_reset=on_reset,
        )
        self._by_id[subscription.id] = subscription
        self.changed.set()
        self._on_added(subscription)
        return subscription

    def remove(self, subscription: Subscription) -> None:
        """Stop ``subscription``: nothing more is delivered to it, queued events included."""
        subscription.active = False
        subscription.pending.clear()
        if self._by_id.pop(subscription.id, None) is None:
            return
        self.changed.set()
        self._on_removed(subscription.id)

    def get(self, subscription_id: object) -> Subscription | None:
        """The active subscription with this id, if any."""
        if not isinstance(subscription_id, str):
            return None
        return self._by_id.get(subscription_id)

    def active(self) -> list[Subscription]:
        return [sub for sub in self._by_id.values() if sub.active]

    async def wait_for_any(self) -> list[Subscription]:
        """The active subscriptions, once there is one (``changed`` is cleared)."""
        while True:
            self.changed.clear()
            active = self.active()
            if active:
                return active
            await self.changed.wait()

    def apply(self, frame: Frame, served: Sequence[Subscription] | None = None) -> None:
        """Apply ``frame`` from a transport: to the subscription it names, else to ``served``
        (the subscriptions the transport was opened for; None: every active one).

        ``Opened`` is the connection's business, not the subscriptions': it is ignored here.
        """
        if isinstance(frame, Opened):
            return
        subscription_id = getattr(frame, "subscription_id", None)
        if subscription_id is not None:
            one = self.get(subscription_id)
            if one is None:
                return  # a subscription already gone
            targets: Sequence[Subscription] = (one,)
        else:
            targets = self.active() if served is None else served
        if isinstance(frame, Delivered):
            for subscription in targets:
                if subscription.take(frame.event):
                    self.deliveries.soon(subscription)
        elif isinstance(frame, Confirmed):
            for subscription in targets:
                subscription.start_at(frame.position)
        elif isinstance(frame, Missed):
            # The events after the position are gone: each subscription behind may have
            # missed some, so each is told to refetch.
            for subscription in targets:
                behind = (subscription.position or 0) < frame.position
                if subscription.active and (behind or subscription_id is not None):
                    subscription.reset(frame.position)
                    self.deliveries.soon(subscription)
        elif isinstance(frame, Refused):
            for subscription in list(targets):
                self.refuse(subscription, frame.error)
        elif isinstance(frame, CaughtUp):
            for subscription in targets:
                subscription.catch_up(frame.position)

    def refuse(self, subscription: Subscription, error: Mapping[str, Any]) -> None:
        """The backend refused ``subscription`` (not a member any more): stop it for good."""
        logger.warning("realtime subscription %s refused: %s", subscription.id, error)
        self.remove(subscription)
