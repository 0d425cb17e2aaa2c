"""The realtime connection: one background loop that keeps events flowing to subscriptions.

The loop climbs down the transport ladder (WebSocket, SSE, polling; see ``_state``) when a
transport keeps failing, waits a jittered backoff between attempts, and while below WebSocket
probes it and climbs straight back when it answers. Each transport is an async iterator of
frames; the loop hands every frame to ``Subscriptions.apply``, the one place positions move, so
whatever the transport and however often it changes, a subscriber gets every event once and in
order.

Owned by the manager: ``start`` from ``initialize()``, ``aclose`` from ``aclose()``; nothing
runs before or after.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable, Sequence

import httpx2
from websockets.exceptions import WebSocketException

from .._clock import Clock
from .._config import RealtimeConfig
from .._errors import APIConnectionError, ServiceError
from .._subscribable import Listeners
from ..transport import RetryPolicy, backoff_delay
from ._credentials import Credentials, SignedOut
from ._frames import Frame, Opened
from ._log import EventLog
from ._polling import polling_frames
from ._registry import Subscriptions
from ._send_buffer import SendBuffer
from ._sse_stream import StreamEnded, StreamRefused, sse_frames
from ._state import (
    Ladder,
    RealtimeState,
    state_after_failure,
    state_when_live,
    state_when_trying,
)
from ._subscription import Subscription
from ._tasks import first_of
from ._websocket import TokenRejected, open_socket, websocket_frames

logger = logging.getLogger("pyairtable_integration.realtime")

_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    EOFError,
    WebSocketException,
    httpx2.TransportError,
    ServiceError,
    StreamEnded,
    StreamRefused,
)


class Connection:
    """The connection's loop, its state, and the transport it runs now.

    ``state`` is a ``RealtimeState``; ``state_listeners`` hear every change. ``on_crash(error)``
    is told when the loop dies of an unexpected error.
    """

    def __init__(
        self,
        options: RealtimeConfig,
        *,
        websocket_url: str,
        sse_url: str,
        credentials: Credentials,
        subscriptions: Subscriptions,
        send_buffer: SendBuffer,
        log: EventLog,
        http: httpx2.AsyncClient,
        clock: Clock,
        on_crash: Callable[[Exception], None],
    ) -> None:
        self.options = options
        self.websocket_url = websocket_url
        self.sse_url = sse_url
        self.credentials = credentials
        self.subscriptions = subscriptions
        self.send_buffer = send_buffer
        self.log = log
        self.http = http
        self.clock = clock
        self.state = RealtimeState()
        self.state_listeners: Listeners[RealtimeState] = Listeners("realtime state")
        self._on_crash = on_crash
        self._runner: asyncio.Task[None] | None = None
        self._prober: asyncio.Task[None] | None = None
        self._ladder: Ladder | None = None
        #: Set by a sign-in or sign-out (a signed-out loop waits for it).
        self.session_changed = asyncio.Event()
        self._live = asyncio.Event()
        self._attempted = asyncio.Event()
        #: Set by the WebSocket probe (run while on a fallback) when a socket opened.
        self._socket_answered = asyncio.Event()
        self._policy = RetryPolicy(
            base_delay=options.reconnect_delay, max_delay=options.reconnect_max_delay
        )
        self._probe_policy = RetryPolicy(
            base_delay=options.probe_delay, max_delay=options.reconnect_max_delay
        )

    @property
    def running(self) -> bool:
        """Whether the loop is alive."""
        return self._runner is not None and not self._runner.done()

    def run(self) -> None:
        """Start the loop unless it runs."""
        if not self.running:
            self._runner = asyncio.get_running_loop().create_task(self._run())
            self._runner.add_done_callback(self._runner_ended)

    async def until_attempted(self) -> None:
        """Return once live, or after the first failure since ``run``."""
        self._live.clear()
        self._attempted.clear()
        self.run()
        live = asyncio.ensure_future(self._live.wait())
        attempted = asyncio.ensure_future(self._attempted.wait())
        try:
            await asyncio.wait([live, attempted], return_when=asyncio.FIRST_COMPLETED)
        finally:
            live.cancel()
            attempted.cancel()

    async def stop(self) -> None:
        """Stop the loop (and its transport) and wait for it; the state becomes ``closed``."""
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
        self.send_buffer.close()
        self._set_state(RealtimeState("closed"))

    def _runner_ended(self, runner: asyncio.Task[None]) -> None:
        if runner.cancelled():
            return
        error = runner.exception()
        if isinstance(error, Exception):
            self._set_state(RealtimeState("closed", None, 0, _describe(error)))
            self._on_crash(error)

    # The loop ----------------------------------------------------------------------------------

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
                self.session_changed.clear()
                self._set_state(state_when_trying(ladder, self.state))
                try:
                    if ladder.in_fallback:
                        await first_of(self._fallback(ladder), self._socket_answered.wait())
                    else:
                        await self._websocket()
                except SignedOut as exc:
                    self._set_state(RealtimeState("offline", ladder.current, 0, str(exc)))
                    self._attempted.set()
                    await self.session_changed.wait()
                except TokenRejected as exc:
                    # 4401: renew the token, then reconnect at once (the socket itself was fine).
                    logger.info("realtime token refused (%s); renewing", exc)
                    self._set_state(state_after_failure(ladder, _describe(exc)))
                    try:
                        await self.credentials.rejected(await self.credentials.token())
                    except SignedOut as ended:
                        self._set_state(RealtimeState("offline", ladder.current, 0, str(ended)))
                        await self.session_changed.wait()
                    except APIConnectionError as failed:
                        await self._after_failure(ladder, failed)
                except _CONNECTION_ERRORS as exc:
                    await self._after_failure(ladder, exc)
        finally:
            await self._stop_probe()
            self._ladder = None
            self.send_buffer.close()

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

    async def _websocket(self) -> None:
        """Serve every subscription over one socket until it fails (and raise why)."""
        token = await self.credentials.token()
        wanted = [subscription.wanted() for subscription in self.subscriptions.active()]
        # Opened before the socket: what is subscribed or dropped while it opens waits here.
        outgoing = self.send_buffer.open()
        try:
            await self._consume(
                websocket_frames(
                    wanted,
                    url=self.websocket_url,
                    token=token,
                    outgoing=outgoing,
                    overflowed=self.send_buffer.overflowed,
                    clock=self.clock,
                    heartbeat_interval=self.options.heartbeat_interval,
                    heartbeat_timeout=self.options.heartbeat_timeout,
                ),
                None,
            )
        finally:
            self.send_buffer.close()

    async def _fallback(self, ladder: Ladder) -> None:
        """Run the fallback transport for the subscriptions there are, restarting it from
        their positions whenever they change; returns only by failing.

        Raises:
            Exception: the transport's failure (the probe goes on regardless).
        """
        while True:
            served = await self.subscriptions.wait_for_any()
            await self._ensure_positions(served)
            wanted = [subscription.wanted() for subscription in served]
            frames: AsyncGenerator[Frame, None]
            if ladder.current == "sse":
                token = await self.credentials.token()
                frames = sse_frames(
                    wanted,
                    http=self.http,
                    url=self.sse_url,
                    token=token,
                    connect_timeout=self.options.heartbeat_timeout,
                    heartbeat_timeout=self.options.sse_heartbeat_timeout,
                )
            else:
                token = ""
                frames = polling_frames(
                    wanted,
                    read=self.log.read,
                    sleep=self.clock.sleep,
                    interval=self.options.poll_interval,
                )
            try:
                await first_of(self._consume(frames, served), self.subscriptions.changed.wait())
            except StreamRefused as exc:
                if exc.status == 401:
                    await self.credentials.rejected(token)  # the next attempt has a new one
                raise

    async def _ensure_positions(self, served: Sequence[Subscription]) -> None:
        """Give every subscription without a position the log's head (one read for all).

        Raises:
            ServiceError: the event log could not be read.
        """
        if any(subscription.position is None for subscription in served):
            head = await self.log.head()
            for subscription in served:
                subscription.start_at(head)

    async def _consume(
        self, frames: AsyncGenerator[Frame, None], served: Sequence[Subscription] | None
    ) -> None:
        async with contextlib.aclosing(frames):
            async for frame in frames:
                if isinstance(frame, Opened):
                    self._went_live()
                else:
                    self.subscriptions.apply(frame, served)

    def _went_live(self) -> None:
        ladder = self._ladder
        if ladder is not None and not self.state.live:
            ladder.live()
            self._set_state(state_when_live(ladder))
        self._live.set()
        self._attempted.set()

    # The WebSocket probe -----------------------------------------------------------------------

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
                ws = await open_socket(
                    self.websocket_url,
                    await self.credentials.token(),
                    timeout=self.options.heartbeat_timeout,
                )
            except SignedOut:
                continue
            except _CONNECTION_ERRORS as exc:  # a refused token (4401) among them
                logger.debug("realtime WebSocket probe failed: %r", exc)
                continue
            await ws.close()
            self._socket_answered.set()
            return

    def _set_state(self, state: RealtimeState) -> None:
        if state == self.state:
            return
        self.state = state
        self.state_listeners.emit(state)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
