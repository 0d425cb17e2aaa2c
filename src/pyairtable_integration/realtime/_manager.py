"""The realtime manager: the parts of one integration's realtime connection, put together.

    Subscriptions (_registry)   the subscriptions and the one place frames change them
    Deliveries (_delivery)      queued events handed to callbacks, one task per subscription
    Connection (_connection)    the loop: the transport ladder, the probe, the state
    SendBuffer (_send_buffer)   frames waiting for the live WebSocket, bounded
    Credentials (_credentials)  the token, the session's or one given to ``connect``
    EventLog (_log)             reads of the event log (polling, positions)

The transports (``_websocket``, ``_sse_stream``, ``_polling``) are async iterators of frames
that know none of these. ``RealtimeManager`` owns the lifecycle (``start``, ``connect``,
``disconnect``, ``aclose``) and answers for all of them; ``pa.realtime`` (``RealtimeClient``)
is what apps use.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

import httpx2

from .._clock import Clock
from .._config import IntegrationConfig, RealtimeConfig
from ..auth import AuthManager, SessionEvent
from ..services.events import EventService
from ..types import Event
from ._connection import Connection
from ._credentials import Credentials, SignedOut
from ._delivery import Deliveries
from ._frames import Channel
from ._log import EventLog
from ._registry import Subscriptions
from ._send_buffer import SEND_BUFFER, SendBuffer
from ._state import RealtimeState
from ._subscription import (
    BatchCallback,
    EventCallback,
    Reset,
    ResetCallback,
    Subscription,
)
from ._websocket import HeartbeatTimeout, auth_message, subscribe_message, unsubscribe_message

logger = logging.getLogger("pyairtable_integration.realtime")

StateListener = Callable[[RealtimeState], object]
EventListener = Callable[[Event], object]
ResetListener = Callable[[Reset], object]


class RealtimeManager:
    """The connection: its state, its transport, and the subscriptions it serves.

    ``state`` is a ``RealtimeState``; ``on_state_change(listener)`` calls ``listener`` with
    every new state. ``connect()`` and ``disconnect()`` start and stop the connection; with
    subscriptions and a running integration it connects by itself.
    """

    def __init__(
        self,
        config: IntegrationConfig,
        *,
        auth: AuthManager,
        events: EventService,
        http: httpx2.AsyncClient,
        clock: Clock,
    ) -> None:
        self.config = config
        self.options: RealtimeConfig = config.realtime_config
        self.enabled = config.features.enable_realtime
        self.auth = auth
        self.clock = clock
        #: Hands queued events to each subscription's callback and the global listeners.
        self.deliveries = Deliveries(clock)
        self.subscriptions = Subscriptions(
            self.deliveries, on_added=self._added, on_removed=self._removed
        )
        self.send_buffer = SendBuffer(SEND_BUFFER)
        self.credentials = Credentials(auth)
        self.connection = Connection(
            self.options,
            websocket_url=config.websocket_url,
            sse_url=config.sse_url,
            credentials=self.credentials,
            subscriptions=self.subscriptions,
            send_buffer=self.send_buffer,
            log=EventLog(events.get_events, clock=clock, retry_wait=self.options.poll_interval),
            http=http,
            clock=clock,
            on_crash=self._crashed,
        )
        #: Told when the connection's loop dies of an unexpected error (the integration reports
        #: it to ``pa.on_background_error`` and raises it from ``aclose``).
        self.report_failure: Callable[[Exception, str], None] | None = None
        self._started = False
        self._wanted = True
        self._closed = False
        self._remove_auth_listener = auth.on_session_change(self._session_change)

    # Lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Let the connection run (the integration calls it from ``initialize()``)."""
        self._started = True
        self._run_if_wanted()

    async def connect(self, access_token: str | None = None) -> None:
        """Connect (again after ``disconnect``); returns once live or after the first failure.

        ``access_token`` replaces the session's token for this connection (an app that manages
        tokens itself); by default the signed-in session's token is used and renewed.
        The loop keeps trying after a failure; ``state`` says how it is going.

        Raises:
            RuntimeError: realtime is switched off (``features.enable_realtime``) or the
                integration is closed.
        """
        self._check_usable()
        if access_token is not None and access_token != self.credentials.override:
            await self.connection.stop()  # reconnect with the token given
        self.credentials.override = access_token
        self._wanted = True
        self._started = True
        await self.connection.until_attempted()

    async def disconnect(self) -> None:
        """Close the connection and stay closed until ``connect()``; subscriptions are kept.

        Events already received are still handed to their callbacks before this returns.
        """
        self._wanted = False
        await self.connection.stop()
        await self.deliveries.drain()

    async def aclose(self) -> None:
        """Stop everything: the connection and any delivery under way; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._wanted = False
        self._remove_auth_listener()
        await self.connection.stop()
        await self.deliveries.aclose()

    @property
    def running(self) -> bool:
        """Whether a background task of the connection or of a delivery is alive."""
        return self.connection.running or self.deliveries.running

    @property
    def state(self) -> RealtimeState:
        """The connection now: status, transport, failed attempts, last error."""
        return self.connection.state

    @property
    def changed(self) -> asyncio.Event:
        """Set when subscriptions come or go."""
        return self.subscriptions.changed

    # Listeners ---------------------------------------------------------------------------------

    def on_state_change(self, listener: StateListener) -> Callable[[], None]:
        """Call ``listener(state)`` on every change of state; returns a function to stop."""
        return self.connection.state_listeners.subscribe(listener)

    def on_event(self, listener: EventListener) -> Callable[[], None]:
        """Call ``listener(event)`` once for every event delivered to any subscription.

        Events of the app's own writes (``mark_local``) are not passed on: whoever wrote has
        applied them already. Returns a function to stop.
        """
        return self.deliveries.event_listeners.subscribe(listener)

    def on_reset(self, listener: ResetListener) -> Callable[[], None]:
        """Call ``listener(reset)`` whenever a subscription's missed events are gone."""
        return self.deliveries.reset_listeners.subscribe(listener)

    def mark_local(self, aggregate_id: str, version: int) -> None:
        """Remember that the app itself wrote ``version`` of ``aggregate_id``."""
        self.deliveries.mark_local(aggregate_id, version)

    def is_local(self, event: Event) -> bool:
        """Whether ``event`` reports a write the app marked with ``mark_local``."""
        return self.deliveries.is_local(event)

    # Subscriptions -----------------------------------------------------------------------------

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
        """Register a subscription and start serving it.

        Raises:
            RuntimeError: realtime is switched off or the integration is closed.
            InvalidIdError: a filter's value is not an id of its type.
            ValueError: an unknown filter name.
        """
        self._check_usable()
        subscription = self.subscriptions.add(
            channel,
            filters,
            callback=callback,
            batch_callback=batch_callback,
            batch_window=batch_window,
            on_reset=on_reset,
        )
        self._run_if_wanted()
        return subscription

    def remove(self, subscription: Subscription) -> None:
        """Stop ``subscription``: nothing more is delivered to it, queued events included."""
        self.subscriptions.remove(subscription)

    def subscription(self, subscription_id: object) -> Subscription | None:
        """The active subscription with this id, if any."""
        return self.subscriptions.get(subscription_id)

    def active_subscriptions(self) -> list[Subscription]:
        return self.subscriptions.active()

    # Inside ------------------------------------------------------------------------------------

    def _check_usable(self) -> None:
        if not self.enabled:
            raise RuntimeError("Realtime is switched off (features.enable_realtime).")
        if self._closed:
            raise RuntimeError("This integration is closed; create a new one.")

    def _run_if_wanted(self) -> None:
        if not (self._started and self._wanted and self.enabled) or self._closed:
            return
        if len(self.subscriptions):
            self.connection.run()

    def _added(self, subscription: Subscription) -> None:
        self.send_buffer.send(subscribe_message(subscription.wanted()))

    def _removed(self, subscription_id: str) -> None:
        self.send_buffer.send(unsubscribe_message(subscription_id))

    def _crashed(self, error: Exception) -> None:
        if self.report_failure is None:
            logger.error("the realtime connection failed: %r", error, exc_info=error)
        else:
            self.report_failure(error, "realtime connection")

    def _session_change(self, event: SessionEvent) -> None:
        self.connection.session_changed.set()
        renewable = self.credentials.override is None and self.send_buffer.is_open
        if event.kind == "refreshed" and event.session is not None and renewable:
            # Renew the token on the live socket, so the backend does not close it (4401).
            self.send_buffer.send(auth_message(event.session.tokens.access_token))

    def __repr__(self) -> str:
        return f"RealtimeManager(state={self.state}, subscriptions={len(self.subscriptions)})"


__all__ = ["HeartbeatTimeout", "RealtimeManager", "SignedOut"]
