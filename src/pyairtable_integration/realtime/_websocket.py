"""The top rung of the ladder: the WebSocket of contract §8, as an async iterator of frames.

One socket carries every subscription. A session authenticates with a first ``auth`` message,
subscribes each subscription with ``since`` its position, then reads frames while two helpers
run beside the reader: a writer (subscribe, unsubscribe and token renewals the connection queues
in its send buffer) and a heartbeat (a JSON ``ping`` when the socket has been quiet; no answer
within the timeout means the socket is dead, as when a network path swallows packets without
closing anything). A helper that fails aborts the socket, and the iteration raises its error.

Imports nothing of the connection: it is given the subscriptions as ``Wanted`` snapshots, a
token, and the send buffer's queue with a way to learn that it overflowed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from .._clock import Clock
from ..types import Event
from ._frames import Confirmed, Delivered, Frame, Missed, Opened, Refused, Wanted

CLOSE_TOKEN_EXPIRED = 4401
CLOSE_FORBIDDEN = 4403
#: Frames larger than this are refused (an event carries one record).
MAX_FRAME_BYTES = 16 * 2**20


class HeartbeatTimeout(ConnectionError):
    """No frame arrived within the heartbeat timeout after a ping: the socket is dead."""


class SendBufferFull(ConnectionError):
    """More frames waited for the socket than its send buffer holds: it is replaced."""


class TokenRejected(ConnectionError):
    """The backend closed the socket with 4401: the token expired or was refused."""


def subscribe_message(wanted: Wanted) -> str:
    """The ``subscribe`` frame of ``wanted``, resuming after its position if it has one."""
    message: dict[str, Any] = {
        "type": "subscribe",
        "subscription_id": wanted.id,
        "channel": wanted.channel,
        "filters": dict(wanted.filters),
    }
    if wanted.position is not None:
        message["since"] = wanted.position
    return json.dumps(message)


def unsubscribe_message(subscription_id: str) -> str:
    return json.dumps({"type": "unsubscribe", "subscription_id": subscription_id})


def auth_message(token: str) -> str:
    return json.dumps({"type": "auth", "token": token})


async def open_socket(url: str, token: str, *, timeout: float) -> ClientConnection:  # noqa: ASYNC109 - the handshake's own timeouts, passed to websockets
    """Connect to ``url`` and authenticate; the socket once ``auth_ok`` arrived.

    Raises:
        TokenRejected: the backend refused the token (close code 4401).
        OSError, WebSocketException, TimeoutError: the socket could not be opened.
    """
    ws = await connect(
        url,
        open_timeout=timeout,
        close_timeout=timeout,
        ping_interval=None,  # the JSON heartbeat below runs on the injected clock instead
        max_size=MAX_FRAME_BYTES,
        proxy=None,
        compression=None,
    )
    try:
        await ws.send(auth_message(token))
        async with asyncio.timeout(timeout):
            while True:
                message = json.loads(await ws.recv())
                if message.get("type") == "auth_ok":
                    return ws
    except ConnectionClosed as exc:
        await ws.close()
        _raise_if_token_rejected(exc)
        raise
    except BaseException:
        await ws.close()
        raise


async def websocket_frames(
    wanted: list[Wanted],
    *,
    url: str,
    token: str,
    outgoing: asyncio.Queue[str],
    overflowed: Callable[[], Awaitable[object]],
    clock: Clock,
    heartbeat_interval: float,
    heartbeat_timeout: float,
) -> AsyncGenerator[Frame, None]:
    """Serve ``wanted`` over one socket, yielding what arrives, until it fails.

    ``outgoing`` holds frames to send (subscriptions made or dropped meanwhile, token renewals);
    ``overflowed`` returns when more were queued than it holds.

    Raises:
        TokenRejected: the socket was closed with 4401.
        HeartbeatTimeout: the socket went silent.
        SendBufferFull: ``overflowed`` returned.
        OSError, WebSocketException, TimeoutError: the connection failed or closed.
    """
    ws = await open_socket(url, token, timeout=heartbeat_timeout)
    helpers = _Helpers(ws, clock, heartbeat_interval, heartbeat_timeout)
    try:
        for each in wanted:
            await ws.send(subscribe_message(each))
        yield Opened()
        helpers.start(outgoing, overflowed)
        async for text in ws:
            helpers.last_received = clock.monotonic()
            frame = _frame(json.loads(text))
            if frame is not None:
                yield frame
        helpers.raise_failure()
        # The iteration ends on a normal close: reconnect like after any other close.
        if ws.close_code == CLOSE_TOKEN_EXPIRED:
            raise TokenRejected(ws.close_reason or "token expired")
        raise ConnectionResetError(f"the server closed the WebSocket ({ws.close_code})")
    except ConnectionClosed as exc:
        helpers.raise_failure()
        _raise_if_token_rejected(exc)
        raise
    finally:
        await helpers.stop()
        await ws.close()


def _frame(message: dict[str, Any]) -> Frame | None:
    subscription_id = message.get("subscription_id")
    if not isinstance(subscription_id, str):
        return None  # auth_ok, pong
    kind = message.get("type")
    if kind == "event":
        return Delivered(Event.model_validate(message["event"]), subscription_id)
    if kind == "subscription_confirmed":
        return Confirmed(int(message["position"]), subscription_id)
    if kind == "subscription_reset":
        return Missed(int(message["position"]), subscription_id)
    if kind == "subscription_error":
        return Refused(message.get("error") or {}, subscription_id)
    return None


def _raise_if_token_rejected(exc: ConnectionClosed) -> None:
    if exc.rcvd is not None and exc.rcvd.code == CLOSE_TOKEN_EXPIRED:
        raise TokenRejected(exc.rcvd.reason) from exc


class _Helpers:
    """The writer, heartbeat and overflow watch beside the reader; the first to fail aborts
    the socket (so the reader stops at once) and its error is what the session raises."""

    def __init__(self, ws: ClientConnection, clock: Clock, interval: float, timeout: float) -> None:
        self.ws = ws
        self.clock = clock
        self.interval = interval
        self.timeout = timeout
        self.last_received = clock.monotonic()
        self.failure: BaseException | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def start(
        self, outgoing: asyncio.Queue[str], overflowed: Callable[[], Awaitable[object]]
    ) -> None:
        loop = asyncio.get_running_loop()
        for work in (self._write(outgoing), self._heartbeat(), self._overflow(overflowed)):
            task = loop.create_task(work)
            task.add_done_callback(self._ended)
            self._tasks.append(task)

    def raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self.failure is not None:
            return
        self.failure = task.exception() or ConnectionResetError("a WebSocket helper ended")
        # Aborted, not closed: a dead socket would hold a closing handshake for its timeout.
        self.ws.transport.abort()

    async def _write(self, outgoing: asyncio.Queue[str]) -> None:
        while True:
            await self.ws.send(await outgoing.get())

    async def _overflow(self, overflowed: Callable[[], Awaitable[object]]) -> None:
        await overflowed()
        raise SendBufferFull("the WebSocket fell behind on the frames to send; reconnecting")

    async def _heartbeat(self) -> None:
        while True:
            await self.clock.sleep(self.interval)
            if self.clock.monotonic() - self.last_received < self.interval:
                continue
            sent_at = self.clock.monotonic()
            await self.ws.send(json.dumps({"type": "ping", "timestamp": sent_at}))
            await self.clock.sleep(self.timeout)
            if self.last_received < sent_at:
                raise HeartbeatTimeout(f"no answer to a ping within {self.timeout} s")
