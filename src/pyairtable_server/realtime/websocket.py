"""``/ws``: the WebSocket endpoint of contract §8.

One connection runs three tasks under one owner: a reader (client messages), a writer (the
subscriber's outbox, in order) and a watchdog (token expiry). Whichever ends the connection
(client gone, token expired and not renewed, forbidden subscription, too slow) ends all three,
and the hub forgets the subscriber.

Protocol-level pings (every 25 s, closing silent sockets) are the ASGI server's job: ``serve``
configures uvicorn with them. The JSON ``ping`` message is answered here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from contextlib import suppress
from typing import Any

import anyio
import anyio.lowlevel
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from ..clock import rfc3339, utcnow
from ..errors import ApiError, NotFound
from ..http.rate_limit import client_ip
from ..services import AppServices
from .access import Viewer, authenticate_viewer, scope_of, subscriber_for
from .admission import Refused, Ticket
from .hub import (
    CLOSE_FORBIDDEN,
    CLOSE_NORMAL,
    CLOSE_OVERLOADED,
    CLOSE_TOKEN_EXPIRED,
    Hub,
    Outgoing,
    Subscriber,
    subscription_error,
)
from .interest import CHANNELS, Interest
from .protocol import (
    AuthMessage,
    PingMessage,
    ProtocolError,
    SubscribeMessage,
    UnsubscribeMessage,
    error_frame,
    frame,
    parse,
)

logger = logging.getLogger("pyairtable_server.realtime")
CLOSE_UNSUPPORTED = 1003
#: How long closing may wait on a client that stopped reading.
CLOSE_TIMEOUT_SECONDS = 5.0

router = APIRouter()


@router.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    """Authenticate (``?token=`` or a first ``auth`` message), then serve subscriptions."""
    services: AppServices = websocket.app.state.services
    await websocket.accept()
    try:
        # Taken before authenticating: sockets that never authenticate hold slots too.
        ticket = services.admission.admit(client_ip(websocket.scope))
    except Refused as exc:
        await _close(websocket, CLOSE_OVERLOADED, exc.message)
        return
    try:
        await _serve(websocket, services, ticket)
    finally:
        ticket.release()


async def _serve(websocket: WebSocket, services: AppServices, ticket: Ticket) -> None:
    hub = services.hub
    settings = services.settings
    try:
        viewer = await _first_authentication(websocket, services)
    except WebSocketDisconnect:
        return
    except (ApiError, ProtocolError, TimeoutError) as exc:
        await _close(websocket, CLOSE_TOKEN_EXPIRED, _reason(exc))
        return
    try:
        ticket.bind(viewer.user_id)
    except Refused as exc:
        await _close(websocket, CLOSE_OVERLOADED, exc.message)
        return
    subscriber = subscriber_for(viewer, outbox_size=settings.realtime_outbox_size)
    subscriber.push({"type": "auth_ok", "expires_at": rfc3339(viewer.expires_at)})
    hub.attach(subscriber)
    connection = _Connection(websocket, services, hub, subscriber)
    try:
        async with anyio.create_task_group() as tasks:
            connection.tasks = tasks
            subscriber.send_now = connection.send_now
            tasks.start_soon(connection.write)
            tasks.start_soon(connection.read)
            tasks.start_soon(connection.watch_expiry)
            await subscriber.closed.wait()
            # Let queued frames (an error, say) go out first, but never wait on a stuck client.
            with anyio.move_on_after(CLOSE_TIMEOUT_SECONDS):
                await connection.flushed.wait()
            tasks.cancel_scope.cancel()
    finally:
        subscriber.send_now = None
        hub.detach(subscriber)
        subscriber.release()
    if not connection.client_gone:
        await _close(websocket, subscriber.close_code, subscriber.close_reason)


async def _first_authentication(websocket: WebSocket, services: AppServices) -> Viewer:
    token = websocket.query_params.get("token")
    if token is None:
        with anyio.fail_after(services.settings.realtime_auth_timeout_seconds):
            text = await websocket.receive_text()
        message = parse(text)
        if not isinstance(message, AuthMessage):
            raise ProtocolError("The first message must be {'type': 'auth', 'token': …}.")
        token = message.token
    return await authenticate_viewer(services, token)


def _reason(exc: Exception) -> str:
    if isinstance(exc, TimeoutError):
        return "no auth message within the time allowed"
    if isinstance(exc, ApiError | ProtocolError):
        return str(exc.message)[:120]
    return "authentication failed"


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.application_state == WebSocketState.DISCONNECTED:
        return
    with anyio.move_on_after(CLOSE_TIMEOUT_SECONDS):
        # Close reasons are limited to 123 bytes by RFC 6455.
        with suppress(RuntimeError, OSError, WebSocketDisconnect):
            await websocket.close(code, reason.encode()[:120].decode(errors="ignore"))


class _Connection:
    def __init__(
        self, websocket: WebSocket, services: AppServices, hub: Hub, subscriber: Subscriber
    ) -> None:
        self.websocket = websocket
        self.services = services
        self.hub = hub
        self.subscriber = subscriber
        self.client_gone = False
        self.tasks: anyio.abc.TaskGroup | None = None
        #: Set when the writer has sent everything queued before the subscriber closed.
        self.flushed = anyio.Event()
        #: True while a frame is being sent (by the writer, or a ``send_now`` that had to wait);
        #: ``finished`` is set when such a ``send_now`` is done.
        self.sending = False
        self.finished: anyio.Event | None = None

    async def write(self) -> None:
        outbox = self.subscriber.outbox
        send = self.websocket.send
        try:
            # Wait only when the outbox is empty: under fan-out the wake-up, not the send, costs.
            while await outbox.wait():
                if self.finished is not None:
                    await self.finished.wait()  # a frame sent by ``send_now`` goes first
                while (item := outbox.get_nowait()) is not None:
                    self.sending = True
                    try:
                        await send({"type": "websocket.send", "text": frame(item)})
                    finally:
                        self.sending = False
            if self.finished is not None:
                await self.finished.wait()
        except (WebSocketDisconnect, OSError, RuntimeError):
            self._gone()
        finally:
            self.flushed.set()

    def send_now(self, item: Outgoing) -> bool:
        """Send ``item`` from the caller's task (the hub's dispatch) unless a send is under way.

        This spares the event a wake-up of the writer task, which on a busy event loop waits
        behind every callback queued before it: that wait was most of an event's time between
        commit and socket (measured with 100 writes/s). An ASGI send is a coroutine that
        completes without suspending unless the socket is paused (its client is not reading);
        it is stepped here, and when it does suspend the rest of it runs in a task of this
        connection (``_finish``), and nothing else is sent before it is done.

        Returns True when the item was taken (sent, being sent, or the client is gone), False
        when it must be queued.
        """
        if self.sending or self.tasks is None or self.client_gone:
            return False
        step = self.websocket.send({"type": "websocket.send", "text": frame(item)})
        try:
            waiting = step.send(None)
        except StopIteration:
            return True
        except (WebSocketDisconnect, OSError, RuntimeError):
            self._gone()
            return True
        self.sending = True
        self.finished = anyio.Event()
        self.tasks.start_soon(self._finish, step, waiting)
        return True

    async def _finish(self, step: Coroutine[Any, Any, None], waiting: Any) -> None:
        """Drive a send that ``send_now`` started to its end, as a task would have.

        A coroutine suspends by yielding the future it waits on (None: "let others run"); it
        is resumed once that future is done, and finds the outcome in it. Cancelled, the send
        is abandoned (``close``: the coroutine's own clean-up runs).
        """
        assert self.finished is not None
        try:
            while True:
                if waiting is None:
                    await anyio.lowlevel.checkpoint()
                else:
                    await _until_done(waiting)
                waiting = step.send(None)
        except StopIteration:
            pass
        except (WebSocketDisconnect, OSError, RuntimeError):
            self._gone()
        finally:
            step.close()
            self.sending = False
            self.finished.set()
            self.finished = None

    async def read(self) -> None:
        subscriber = self.subscriber
        while not subscriber.closed.is_set():
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                self._gone()
                return
            text = message.get("text")
            if text is None:
                subscriber.close(CLOSE_UNSUPPORTED, "only JSON text frames are accepted")
                return
            try:
                await self._handle(parse(text))
            except ProtocolError as exc:
                await self.websocket.send_text(
                    error_frame("VALIDATION_ERROR", exc.message, exc.details)
                )

    def _gone(self) -> None:
        self.client_gone = True
        self.flushed.set()
        self.subscriber.close(CLOSE_NORMAL, "client went away")

    async def watch_expiry(self) -> None:
        subscriber = self.subscriber
        while True:
            remaining = (subscriber.expires_at - utcnow()).total_seconds()
            if remaining <= 0:
                subscriber.close(CLOSE_TOKEN_EXPIRED, "the access token expired; reconnect")
                return
            # Re-check after sleeping: an auth message may have renewed the token meanwhile.
            await anyio.sleep(remaining)

    async def _handle(
        self, message: AuthMessage | SubscribeMessage | UnsubscribeMessage | PingMessage
    ) -> None:
        subscriber = self.subscriber
        if isinstance(message, PingMessage):
            subscriber.push({"type": "pong", "timestamp": message.timestamp})
        elif isinstance(message, AuthMessage):
            await self._renew(message.token)
        elif isinstance(message, UnsubscribeMessage):
            subscriber.subscriptions.pop(message.subscription_id, None)
            subscriber.push({"type": "unsubscribed", "subscription_id": message.subscription_id})
        else:
            await self._subscribe(message)

    async def _renew(self, token: str) -> None:
        subscriber = self.subscriber
        try:
            viewer = await authenticate_viewer(self.services, token)
        except ApiError as exc:
            subscriber.close(CLOSE_TOKEN_EXPIRED, _reason(exc))
            return
        if viewer.user_id != subscriber.user_id:
            subscriber.close(CLOSE_TOKEN_EXPIRED, "the new token belongs to another user")
            return
        subscriber.expires_at = viewer.expires_at
        subscriber.session_id = viewer.session_id
        subscriber.authenticated_at = viewer.authenticated_at
        self.hub.watch_session(subscriber)
        subscriber.push({"type": "auth_ok", "expires_at": rfc3339(viewer.expires_at)})

    async def _subscribe(self, message: SubscribeMessage) -> None:
        subscriber = self.subscriber
        limit = self.services.settings.realtime_max_subscriptions
        if (
            message.subscription_id not in subscriber.subscriptions
            and len(subscriber.subscriptions) >= limit
        ):
            subscriber.push(
                subscription_error(
                    message.subscription_id,
                    "VALIDATION_ERROR",
                    f"A connection may hold at most {limit} subscriptions.",
                )
            )
            return
        channel = message.channel
        interest = Interest.of(
            () if channel in (None, "*") else (str(channel),),
            {
                "workspace_id": message.filters.workspace_id,
                "base_id": message.filters.base_id,
                "table_id": message.filters.table_id,
                "aggregate_id": message.filters.aggregate_id,
            },
        )
        assert interest.channels <= CHANNELS
        try:
            scope = await scope_of(self.services, subscriber.workspaces, interest)
        except NotFound as exc:
            subscriber.push(
                subscription_error(message.subscription_id, "PERMISSION_DENIED", exc.message)
            )
            subscriber.close(CLOSE_FORBIDDEN, "forbidden subscription")
            return
        sub = self.hub.subscribe(
            subscriber,
            message.subscription_id,
            interest,
            since=message.since,
            scope_workspace=scope,
        )
        if message.since is not None and self.tasks is not None:
            self.tasks.start_soon(self.hub.catch_up, subscriber, sub)


async def _until_done(future: asyncio.Future[Any]) -> None:
    """Wait until ``future`` is done, without taking its outcome (its awaiter does)."""
    done = anyio.Event()
    future.add_done_callback(lambda _: done.set())
    await done.wait()
