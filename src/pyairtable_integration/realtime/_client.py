"""``pa.realtime``: subscribe to changes as they happen; the connection is ``manager``."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..types import Event
from ._frames import Channel
from ._manager import EventListener, RealtimeManager, ResetListener
from ._state import RealtimeState
from ._subscription import BatchCallback, EventCallback, ResetCallback, Subscription


class RealtimeClient:
    """Subscriptions to the backend's events, served by ``manager`` (WebSocket, SSE or polling).

    Callbacks may be plain functions or coroutines; each subscription's callback is called for
    every matching event exactly once and in ``seq`` order, across reconnects and transport
    changes. ``on_reset`` is called instead when the events missed while away are gone (beyond
    the backend's retention): refetch what the subscription covers.
    """

    def __init__(self, manager: RealtimeManager) -> None:
        self.manager = manager

    def subscribe(
        self,
        channel: Channel,
        filters: Mapping[str, str] | None,
        callback: EventCallback,
        *,
        on_reset: ResetCallback | None = None,
    ) -> Subscription:
        """Call ``callback(event)`` for each event on ``channel`` (``"*"``: all) that matches.

        ``filters`` may hold ``workspace_id``, ``base_id``, ``table_id`` and ``aggregate_id``.

        Raises:
            RuntimeError: realtime is switched off or the integration is closed.
            ValueError: an unknown filter name.
        """
        return self.manager.add(channel, filters or {}, callback=callback, on_reset=on_reset)

    @property
    def enabled(self) -> bool:
        """Whether realtime is switched on (``features.enable_realtime``)."""
        return self.manager.enabled

    @property
    def state(self) -> RealtimeState:
        """The connection now: status, transport, failed attempts, last error."""
        return self.manager.state

    def on_state_change(self, listener: Callable[[RealtimeState], object]) -> Callable[[], None]:
        """Call ``listener(state)`` on every change of state; returns a function to stop."""
        return self.manager.on_state_change(listener)

    async def connect(self, access_token: str | None = None) -> None:
        """Connect (again after ``disconnect``); returns once live or after the first failure.

        Same as ``manager.connect``; see there.

        Raises:
            RuntimeError: realtime is switched off or the integration is closed.
        """
        await self.manager.connect(access_token)

    async def disconnect(self) -> None:
        """Close the connection until ``connect()``; subscriptions are kept."""
        await self.manager.disconnect()

    def subscribe_batched(
        self,
        channel: Channel,
        filters: Mapping[str, str] | None,
        callback: BatchCallback,
        *,
        window: float,
        on_reset: ResetCallback | None = None,
    ) -> Subscription:
        """Like ``subscribe``, but ``callback(events)`` gets a burst at once, at most every
        ``window`` seconds (a list, in order).

        Raises:
            RuntimeError: realtime is switched off or the integration is closed.
            ValueError: an unknown filter name.
        """
        return self.manager.add(
            channel,
            filters or {},
            batch_callback=callback,
            batch_window=window,
            on_reset=on_reset,
        )

    def subscribe_to_record_changes(
        self, table_id: str, callback: EventCallback, *, on_reset: ResetCallback | None = None
    ) -> Subscription:
        """Call ``callback(event)`` for every record created, updated or deleted in ``table_id``.

        Raises:
            RuntimeError: realtime is switched off or the integration is closed.
        """
        return self.subscribe("record", {"table_id": table_id}, callback, on_reset=on_reset)

    def subscribe_to_workspace_changes(
        self, workspace_id: str, callback: EventCallback, *, on_reset: ResetCallback | None = None
    ) -> Subscription:
        """Call ``callback(event)`` for every change of any kind in ``workspace_id``.

        Raises:
            RuntimeError: realtime is switched off or the integration is closed.
        """
        return self.subscribe("*", {"workspace_id": workspace_id}, callback, on_reset=on_reset)

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop ``subscription``; nothing more reaches its callback (safe to call twice)."""
        self.manager.remove(subscription)

    def on_event(self, listener: EventListener) -> Callable[[], None]:
        """Call ``listener(event)`` once per event delivered to any subscription, except the
        app's own writes (``mark_local``); returns a function to stop (the cache's feed)."""
        return self.manager.on_event(listener)

    def on_reset(self, listener: ResetListener) -> Callable[[], None]:
        """Call ``listener(reset)`` whenever a subscription's missed events are gone."""
        return self.manager.on_reset(listener)

    def mark_local(self, aggregate_id: str, version: int) -> None:
        """Remember that the app wrote ``version`` of ``aggregate_id`` itself (so the event that
        reports it is not applied twice: ``on_event`` listeners skip it, ``is_local`` says so).

        The contract's events carry no origin, so a write is recognised by the version it made.
        """
        self.manager.mark_local(aggregate_id, version)

    def is_local(self, event: Event) -> bool:
        """Whether ``event`` reports a write marked with ``mark_local``."""
        return self.manager.is_local(event)

    async def aclose(self) -> None:
        """Close the connection and stop every delivery."""
        await self.manager.aclose()
