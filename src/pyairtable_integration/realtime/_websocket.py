"""The WebSocket transport of contract §8: one socket carries every subscription.

A session authenticates with a first ``auth`` message, subscribes each subscription with
``since`` its position, then runs three tasks until one ends: a reader (events, confirmations,
resets), a writer (subscribe, unsubscribe and token renewals queued by the manager) and a
heartbeat (a JSON ``ping`` when the socket has been quiet; no answer within the timeout means
the socket is dead, as when a network path swallows packets without closing anything).
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from ..types import Event
from ._tasks import first_of

if TYPE_CHECKING:
    from ._manager import RealtimeManager
    from ._subscription import Subscription

CLOSE_TOKEN_EXPIRED = 4401
CLOSE_FORBIDDEN = 4403
#: Frames larger than this are refused (an event carries one record).
MAX_FRAME_BYTES = 16 * 2**20


class HeartbeatTimeout(ConnectionError):
    """No frame arrived within the heartbeat timeout after a ping: the socket is dead."""


class SendBufferFull(ConnectionError):
    """More frames waited for the socket than ``SEND_BUFFER``: it is replaced by a new one."""


class TokenRejected(ConnectionError):
    """The backend closed the socket with 4401: the token expired or was refused."""


def subscribe_message(subscription: Subscription) -> str:
    """The ``subscribe`` frame of ``subscription``, resuming after its position if it has one."""
    message: dict[str, Any] = {
        "type": "subscribe",
        "subscription_id": subscription.id,
        "channel": subscription.channel,
        "filters": subscription.filters,
    }
    if subscription.position is not None:
        message["since"] = subscription.position
    return json.dumps(message)


def unsubscribe_message(subscription_id: str) -> str:
    return json.dumps({"type": "unsubscribe", "subscription_id": subscription_id})


def auth_message(token: str) -> str:
    return json.dumps({"type": "auth", "token": token})


async def open_socket(manager: RealtimeManager, token: str) -> ClientConnection:
    """Connect to ``/ws`` and authenticate; the socket once ``auth_ok`` arrived.

    Raises:
        TokenRejected: the backend refused the token (close code 4401).
        OSError, WebSocketException, TimeoutError: the socket could not be opened.
    """
    options = manager.options
    ws = await connect(
        manager.websocket_url,
        open_timeout=options.heartbeat_timeout,
        close_timeout=options.heartbeat_timeout,
        ping_interval=None,  # the JSON heartbeat below runs on the injected clock instead
        max_size=MAX_FRAME_BYTES,
        proxy=None,
        compression=None,
    )
    try:
        await ws.send(auth_message(token))
        async with asyncio.timeout(options.heartbeat_timeout):
            while True:
                message = json.loads(await ws.recv())
                if message.get("type") == "auth_ok":
                    return ws
    except ConnectionClosed as exc:
        await ws.close()
        if exc.rcvd is not None and exc.rcvd.code == CLOSE_TOKEN_EXPIRED:
            raise TokenRejected(exc.rcvd.reason) from exc
        raise
    except BaseException:
        await ws.close()
        raise


async def run_session(manager: RealtimeManager, token: str) -> None:
    """Serve every subscription over one socket until it fails.

    Raises:
        TokenRejected: the socket was closed with 4401.
        HeartbeatTimeout: the socket went silent.
        OSError, WebSocketException, TimeoutError: the connection failed or closed.
    """
    ws = await open_socket(manager, token)
    session = _Session(manager, ws)
    try:
        for subscription in manager.active_subscriptions():
            await ws.send(subscribe_message(subscription))
        manager.went_live()
        await first_of(session.read(), session.write(), session.heartbeat(), session.overflow())
    except ConnectionClosed as exc:
        if exc.rcvd is not None and exc.rcvd.code == CLOSE_TOKEN_EXPIRED:
            raise TokenRejected(exc.rcvd.reason) from exc
        raise
    finally:
        manager.close_send_buffer()
        await ws.close()


class _Session:
    def __init__(self, manager: RealtimeManager, ws: ClientConnection) -> None:
        self.manager = manager
        self.ws = ws
        self.clock = manager.clock
        self.last_received = self.clock.monotonic()
        self.outbox = manager.open_send_buffer()

    async def read(self) -> None:
        manager = self.manager
        async for frame in self.ws:
            self.last_received = self.clock.monotonic()
            message = json.loads(frame)
            subscription = manager.subscription(message.get("subscription_id"))
            if subscription is None:
                continue  # auth_ok, pong, or a subscription already gone
            kind = message.get("type")
            if kind == "event":
                manager.take(subscription, Event.model_validate(message["event"]))
            elif kind == "subscription_confirmed":
                subscription.start_at(int(message["position"]))
            elif kind == "subscription_reset":
                manager.reset(subscription, int(message["position"]))
            elif kind == "subscription_error":
                manager.refused(subscription, message.get("error") or {})
        # The iteration ends on a normal close: reconnect like after any other close.
        if self.ws.close_code == CLOSE_TOKEN_EXPIRED:
            raise TokenRejected(self.ws.close_reason or "token expired")
        raise ConnectionResetError(f"the server closed the WebSocket ({self.ws.close_code})")

    async def write(self) -> None:
        while True:
            frame = await self.outbox.get()
            await self.ws.send(frame)

    async def overflow(self) -> None:
        await self.manager.overflowed()
        raise SendBufferFull("the WebSocket fell behind on the frames to send; reconnecting")

    async def heartbeat(self) -> None:
        options = self.manager.options
        while True:
            await self.clock.sleep(options.heartbeat_interval)
            if self.clock.monotonic() - self.last_received < options.heartbeat_interval:
                continue
            sent_at = self.clock.monotonic()
            await self.ws.send(json.dumps({"type": "ping", "timestamp": sent_at}))
            await self.clock.sleep(options.heartbeat_timeout)
            if self.last_received < sent_at:
                raise HeartbeatTimeout(f"no answer to a ping within {options.heartbeat_timeout} s")
