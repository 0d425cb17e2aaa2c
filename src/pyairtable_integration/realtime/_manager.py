"""The realtime connection: one background loop that keeps events flowing to subscriptions.

The loop climbs down the transport ladder (WebSocket, SSE, polling; see ``_state``) when a
transport keeps failing, waits a jittered backoff between attempts, and while below WebSocket
probes it and climbs straight back when it answers. Each subscription keeps its position, so
whatever the transport and however often it changes, a subscriber gets every event once and in
order. Deliveries run in one task per subscription that has something queued (and only while it
has), so a slow callback never holds up the socket reader or another subscriber.

Owned by the integration: ``start`` in ``initialize()``, ``aclose`` in ``aclose()``; nothing runs
before or after.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Mapping
from typing import Any

import httpx2
from websockets.exceptions import WebSocketException

from .._clock import Clock
from .._config import IntegrationConfig, RealtimeConfig
from .._errors import APIConnectionError
from .._ids import check_any_id, check_request_ids
from .._subscribable import Listeners
from ..auth import AuthManager, SessionEvent
from ..services.events import EventService
from ..transport import RetryPolicy, backoff_delay
from ..types import Event
from ._delivery import Deliveries
from ._fallback import FALLBACK_ERRORS, polling_session, sse_session
from ._state import (
    Ladder,
    RealtimeState,
    state_after_failure,
    state_when_live,
    state_when_trying,
)
from ._subscription import (
    BatchCallback,
    Channel,
    EventCallback,
    Reset,
    ResetCallback,
    Subscription,
)
from ._tasks import first_of
from ._websocket import (
    HeartbeatTimeout,
    TokenRejected,
    auth_message,
    open_socket,
    subscribe_message,
    unsubscribe_message,
)
from ._websocket import run_session as run_websocket

logger = logging.getLogger("pyairtable_integration.realtime")

StateListener = Callable[[RealtimeState], object]
EventListener = Callable[[Event], object]
ResetListener = Callable[[Reset], object]
#: Frames (subscribe, unsubscribe, token renewals) that may wait for the live socket. A socket
#: that falls this far behind is replaced: the new one subscribes afresh from the positions.
SEND_BUFFER = 256

_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    EOFError,
    WebSocketException,
    *FALLBACK_ERRORS,
)


class SignedOut(Exception):
    """There is no session to connect with; the loop waits for a sign-in."""


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
        self.websocket_url = config.websocket_url
        self.sse_url = config.sse_url
        self.enabled = config.features.enable_realtime
        self.auth = auth
        self.events = events
        self.http = http
        self.clock = clock
        self.state = RealtimeState()
        # Frames for the live WebSocket (None when there is none), bounded by SEND_BUFFER;
        # ``send`` is the only way in, ``open_send_buffer`` the socket's only way to read.
        self._send_buffer: asyncio.Queue[str] | None = None
        self._send_overflow = asyncio.Event()
        #: Set when subscriptions come or go (the fallback sessions follow it).
        self.changed = asyncio.Event()
        self._subscriptions: dict[str, Subscription] = {}
        self._state_listeners: Listeners[RealtimeState] = Listeners("realtime state")
        #: Hands queued events to each subscription's callback and the global listeners.
        self.deliveries = Deliveries(clock)
        self._runner: asyncio.Task[None] | None = None
        self._started = False
        self._wanted = True
        self._closed = False
        self._token_override: str | None = None
        self._session_changed = asyncio.Event()
        self._live = asyncio.Event()
        self._attempted = asyncio.Event()
        #: Set by the WebSocket probe (run while on a fallback) when a socket opened.
        self._socket_answered = asyncio.Event()
        #: Told when the connection's loop dies of an unexpected error (the integration reports
        #: it to ``pa.on_background_error`` and raises it from ``aclose``).
        self.report_failure: Callable[[Exception, str], None] | None = None
        self._prober: asyncio.Task[None] | None = None
        self._remove_auth_listener = auth.on_session_change(self._session_change)
        self._policy = RetryPolicy(
            base_delay=self.options.reconnect_delay, max_delay=self.options.reconnect_max_delay
        )
        self._probe_policy = RetryPolicy(
            base_delay=self.options.probe_delay, max_delay=self.options.reconnect_max_delay
        )

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
        if access_token is not None and access_token != self._token_override:
            await self._stop_runner()  # reconnect with the token given
        self._token_override = access_token
        self._wanted = True
        self._started = True
        self._live.clear()
        self._attempted.clear()
        self._run_if_wanted(force=True)
        live = asyncio.ensure_future(self._live.wait())
        attempted = asyncio.ensure_future(self._attempted.wait())
        try:
            await asyncio.wait([live, attempted], return_when=asyncio.FIRST_COMPLETED)
        finally:
            live.cancel()
            attempted.cancel()

    async def disconnect(self) -> None:
        """Close the connection and stay closed until ``connect()``; subscriptions are kept.

        Events already received are still handed to their callbacks before this returns.
        """
        self._wanted = False
        await self._stop_runner()
        await self.deliveries.drain()

    async def aclose(self) -> None:
        """Stop everything: the connection and any delivery under way; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._wanted = False
        self._remove_auth_listener()
        await self._stop_runner()
        await self.deliveries.aclose()

    @property
    def running(self) -> bool:
        """Whether a background task of the connection or of a delivery is alive."""
        runner = self._runner is not None and not self._runner.done()
        return runner or self.deliveries.running

    # Listeners ---------------------------------------------------------------------------------

    def on_state_change(self, listener: StateListener) -> Callable[[], None]:
        """Call ``listener(state)`` on every change of state; returns a function to stop."""
        return self._state_listeners.subscribe(listener)

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
        self._subscriptions[subscription.id] = subscription
        self.changed.set()
        self.send(subscribe_message(subscription))
        self._run_if_wanted()
        return subscription

    def remove(self, subscription: Subscription) -> None:
        """Stop ``subscription``: nothing more is delivered to it, queued events included."""
        subscription.active = False
        subscription.pending.clear()
        if self._subscriptions.pop(subscription.id, None) is None:
            return
        self.changed.set()
        self.send(unsubscribe_message(subscription.id))

    def subscription(self, subscription_id: object) -> Subscription | None:
        """The active subscription with this id, if any."""
        if not isinstance(subscription_id, str):
            return None
        return self._subscriptions.get(subscription_id)

    def active_subscriptions(self) -> list[Subscription]:
        return [sub for sub in self._subscriptions.values() if sub.active]

    # The live socket's frames ------------------------------------------------------------------

    def send(self, frame: str) -> None:
        """Queue ``frame`` for the live WebSocket; nothing without one (the next socket
        subscribes from the positions). A full buffer ends the socket (``overflowed``)."""
        buffer = self._send_buffer
        if buffer is None:
            return
        try:
            buffer.put_nowait(frame)
        except asyncio.QueueFull:
            self._send_overflow.set()

    def open_send_buffer(self) -> asyncio.Queue[str]:
        """A fresh, empty buffer for a socket that has just subscribed everything."""
        self._send_overflow.clear()
        self._send_buffer = asyncio.Queue(maxsize=SEND_BUFFER)
        return self._send_buffer

    def close_send_buffer(self) -> None:
        """The socket is gone: frames are no longer queued."""
        self._send_buffer = None

    async def overflowed(self) -> None:
        """Return when ``send`` found the buffer full (the socket cannot keep up)."""
        await self._send_overflow.wait()

    # Called by the transports ------------------------------------------------------------------

    def take(self, subscription: Subscription, event: Event) -> None:
        """Queue ``event`` for ``subscription`` unless it has seen it."""
        if subscription.take(event):
            self.deliveries.soon(subscription)

    def reset(self, subscription: Subscription, position: int) -> None:
        """Tell ``subscription`` its missed events are gone; it goes on from ``position``."""
        if subscription.active:
            subscription.reset(position)
            self.deliveries.soon(subscription)

    def refused(self, subscription: Subscription, error: Mapping[str, Any]) -> None:
        """The backend refused ``subscription`` (not a member any more): stop it for good."""
        logger.warning("realtime subscription %s refused: %s", subscription.id, error)
        self.remove(subscription)

    def went_live(self) -> None:
        """The transport in use delivers events."""
        ladder = self._ladder
        if ladder is not None and not self.state.live:
            ladder.live()
            self._set_state(state_when_live(ladder))
        self._live.set()
        self._attempted.set()

    async def token(self) -> str:
        """The access token to connect with.

        Raises:
            SignedOut: there is no session (and no token was given to ``connect``).
        """
        if self._token_override is not None:
            return self._token_override
        authorization = await self.auth.authorization()
        if authorization is None:
            raise SignedOut("not signed in")
        return authorization.partition(" ")[2]

    async def token_rejected(self, token: str) -> None:
        """The backend refused ``token``: get a newer one.

        Raises:
            SignedOut: the session ended (or the token given to ``connect`` expired).
        """
        if self._token_override is not None:
            # The app's own token expired: go on with the session's, if there is one.
            self._token_override = None
            if self.auth.session is None:
                raise SignedOut("the access token given to connect() was refused")
            return
        if not await self.auth.recover(f"Bearer {token}"):
            raise SignedOut("the session ended")

    # The loop ----------------------------------------------------------------------------------

    _ladder: Ladder | None = None

    def _check_usable(self) -> None:
        if not self.enabled:
            raise RuntimeError("Realtime is switched off (features.enable_realtime).")
        if self._closed:
            raise RuntimeError("This integration is closed; create a new one.")

    def _run_if_wanted(self, *, force: bool = False) -> None:
        if not (self._started and self._wanted and self.enabled) or self._closed:
            return
        if not (force or self._subscriptions):
            return
        if self._runner is None or self._runner.done():
            self._runner = asyncio.get_running_loop().create_task(self._run())
            self._runner.add_done_callback(self._runner_ended)

    def _runner_ended(self, runner: asyncio.Task[None]) -> None:
        if runner.cancelled():
            return
        error = runner.exception()
        if isinstance(error, Exception):
            self._set_state(RealtimeState("closed", None, 0, _describe(error)))
            if self.report_failure is None:
                logger.error("the realtime connection failed: %r", error, exc_info=error)
            else:
                self.report_failure(error, "realtime connection")

    async def _stop_runner(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
        self.close_send_buffer()
        self._set_state(RealtimeState("closed"))

    async def _run(self) -> None:
        ladder = self._ladder = Ladder(
            sse_enabled=self.options.enable_sse_fallback,
            failures_to_fall=self.options.failures_to_fall,
        )
        try:
            while True:
                if self._socket_answered.is_set():
                    # The probe opened a WebSocket while a fallback ran (or failed): climb back.
                    await self._stop_probe()
                    ladder.back_to_top()
                if ladder.in_fallback:
                    self._start_probe()
                self._session_changed.clear()
                self._set_state(state_when_trying(ladder, self.state))
                try:
                    if ladder.in_fallback:
                        await self._fallback(ladder)
                    else:
                        await run_websocket(self, await self.token())
                except SignedOut as exc:
                    self._set_state(RealtimeState("offline", ladder.current, 0, str(exc)))
                    self._attempted.set()
                    await self._session_changed.wait()
                    continue
                except TokenRejected as exc:
                    # 4401: renew the token, then reconnect at once (the socket itself was fine).
                    logger.info("realtime token refused (%s); renewing", exc)
                    self._set_state(state_after_failure(ladder, _describe(exc)))
                    try:
                        await self.token_rejected(await self.token())
                    except SignedOut as ended:
                        self._set_state(RealtimeState("offline", ladder.current, 0, str(ended)))
                        await self._session_changed.wait()
                    except APIConnectionError as failed:
                        await self._after_failure(ladder, failed)
                    continue
                except _CONNECTION_ERRORS as exc:
                    await self._after_failure(ladder, exc)
                    continue
        finally:
            await self._stop_probe()
            self._ladder = None
            self.close_send_buffer()

    async def _after_failure(self, ladder: Ladder, error: BaseException) -> None:
        logger.info("realtime %s failed: %r", ladder.current, error)
        ladder.failed()
        self._set_state(state_after_failure(ladder, _describe(error)))
        self._attempted.set()
        wait = self.clock.sleep(backoff_delay(self._policy, ladder.attempt))
        if ladder.in_fallback:
            self._start_probe()
            # The WebSocket probe goes on through the fallback's failures and backoff: when
            # the network returns, whichever transport answers first ends the wait.
            await first_of(wait, self._socket_answered.wait())
        else:
            await wait

    async def _fallback(self, ladder: Ladder) -> None:
        """Run the fallback transport until the WebSocket probe succeeds (then return).

        Raises:
            Exception: the fallback session's failure (the probe goes on regardless).
        """
        session = sse_session if ladder.current == "sse" else polling_session
        await first_of(session(self), self._socket_answered.wait())

    def _start_probe(self) -> None:
        if self._prober is None or self._prober.done():
            self._socket_answered.clear()
            self._prober = asyncio.get_running_loop().create_task(self._probe())

    async def _stop_probe(self) -> None:
        prober, self._prober = self._prober, None
        self._socket_answered.clear()
        if prober is not None:
            prober.cancel()
            await asyncio.gather(prober, return_exceptions=True)

    async def _probe(self) -> None:
        """Set ``_socket_answered`` once a WebSocket opens and authenticates (tried with a
        growing backoff, whatever the fallback transport does meanwhile)."""
        attempt = 0
        while True:
            attempt += 1
            await self.clock.sleep(backoff_delay(self._probe_policy, attempt))
            try:
                ws = await open_socket(self, await self.token())
            except SignedOut:
                continue
            except _CONNECTION_ERRORS as exc:  # a refused token (4401) among them
                logger.debug("realtime WebSocket probe failed: %r", exc)
                continue
            await ws.close()
            self._socket_answered.set()
            return

    # State and session -------------------------------------------------------------------------

    def _set_state(self, state: RealtimeState) -> None:
        if state == self.state:
            return
        self.state = state
        self._state_listeners.emit(state)

    def _session_change(self, event: SessionEvent) -> None:
        self._session_changed.set()
        renewable = self._token_override is None and self._send_buffer is not None
        if event.kind == "refreshed" and event.session is not None and renewable:
            # Renew the token on the live socket, so the backend does not close it (4401).
            self.send(auth_message(event.session.tokens.access_token))

    def __repr__(self) -> str:
        return f"RealtimeManager(state={self.state}, subscriptions={len(self._subscriptions)})"


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


__all__ = ["HeartbeatTimeout", "RealtimeManager", "SignedOut"]
