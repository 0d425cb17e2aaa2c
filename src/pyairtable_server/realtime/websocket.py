"""``/ws``: the WebSocket endpoint of contract §8.

A connection is one task, uvicorn's: it authenticates, then reads client messages until the
subscriber closes (client gone, token expired and not renewed, forbidden subscription, too slow),
lets what is queued go out (never waiting long on a stuck client), closes the socket and has the
hub forget the subscriber. Nothing else runs for an idle connection: the token's expiry is a timer
(``loop.call_later``: the server runs on asyncio only), and frames are written by the hub's
flusher straight to uvicorn's sans-I/O protocol (``realtime.wire``; several queued frames in one
write). Tasks of the connection's task group are started only for what waits: a resumed
subscription's replay (``since``), and a socket whose client reads too slowly, until its transport
drains. Under another ASGI server, a writer task sends the outbox through ASGI instead.

Protocol-level pings (every 25 s, closing silent sockets) are the ASGI server's job: ``serve``
configures uvicorn with them. The JSON ``ping`` message is answered here.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

import anyio
from anyio.abc import TaskGroup
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
    EventOut,
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
    error_message,
    frame,
    parse,
)
from .wire import DirectSocket, SocketState, text_frame

logger = logging.getLogger("pyairtable_server.realtime")
CLOSE_UNSUPPORTED = 1003
#: How long closing may wait on a client that stopped reading.
CLOSE_TIMEOUT_SECONDS = 5.0


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


router = APIRouter()
# A plain Starlette route, not FastAPI's ``router.websocket``: the endpoint takes no dependencies,
# and FastAPI's would hold a dependency solution and two exit stacks for the socket's whole life
# (about 3 KB a socket, bench/realtime_memory.py).
router.add_websocket_route("/ws", websocket_endpoint)


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
    connection = _Connection(websocket, services, hub, subscriber)
    try:
        # Reading is this task's; the group holds replays, waits for a slow client and, under
        # a server other than uvicorn's sans-I/O, the writer.
        async with anyio.create_task_group() as tasks:
            connection.start(tasks)
            subscriber.push({"type": "auth_ok", "expires_at": rfc3339(viewer.expires_at)})
            hub.attach(subscriber)
            await connection.read()
            # Let queued frames (an error, say) go out first, but never wait on a stuck client.
            with anyio.move_on_after(CLOSE_TIMEOUT_SECONDS):
                await connection.drain()
            tasks.cancel_scope.cancel()
    finally:
        connection.stop()
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
    """One socket's reading and writing (see the module docstring)."""

    __slots__ = (
        "_direct",
        "_expiry",
        "_receiving",
        "_waiting_writable",
        "_written",
        "client_gone",
        "hub",
        "services",
        "subscriber",
        "tasks",
        "websocket",
    )

    def __init__(
        self, websocket: WebSocket, services: AppServices, hub: Hub, subscriber: Subscriber
    ) -> None:
        self.websocket = websocket
        self.services = services
        self.hub = hub
        self.subscriber = subscriber
        self.client_gone = False
        self.tasks: TaskGroup | None = None
        #: The socket's transport when frames can be written to it directly (else None: a
        #: writer task sends through ASGI and sets ``_written`` when the outbox has ended).
        self._direct = DirectSocket.of(websocket)
        self._written: anyio.Event | None = None
        #: True while a task waits for the paused transport to drain (it flushes then).
        self._waiting_writable = False
        #: Set while the reader waits for a client message (not while it handles one): it is
        #: cancelled when the subscriber closes.
        self._receiving: anyio.CancelScope | None = None
        self._expiry: asyncio.TimerHandle | None = None

    def start(self, tasks: TaskGroup) -> None:
        """Start writing and watching the token's expiry; ``tasks`` runs what has to wait."""
        self.tasks = tasks
        subscriber = self.subscriber
        subscriber.interrupt = self._interrupt
        if self._direct is not None:
            subscriber.flush = self.flush
        else:
            self._written = anyio.Event()
            tasks.start_soon(self._write_through_asgi)
        self._watch_expiry()

    def stop(self) -> None:
        """Stop writing and watching (the connection is over)."""
        subscriber = self.subscriber
        subscriber.flush = None
        subscriber.interrupt = None
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None

    # Writing -----------------------------------------------------------------------------------

    def flush(self) -> None:
        """Write everything queued, in one write; a paused socket's frames stay queued until its
        transport drains (a task waits for that), and a closed one's are dropped."""
        direct = self._direct
        if direct is None or self._waiting_writable:
            return
        if self._write_queued(direct) is SocketState.PAUSED and self.tasks is not None:
            self._waiting_writable = True
            self.tasks.start_soon(self._flush_when_writable, direct)

    def _write_queued(self, direct: DirectSocket) -> SocketState:
        """Write what is queued if the socket is open; its state (gone: the client is)."""
        if self.client_gone:
            return SocketState.GONE
        state = direct.state
        if state is SocketState.GONE:
            self._gone()
        elif state is SocketState.OPEN:
            items = self.subscriber.outbox.take()
            if len(items) == 1:
                direct.write(_frame(items[0]))
            elif items:
                direct.write(b"".join([_frame(item) for item in items]))
        return state

    async def _flush_when_writable(self, direct: DirectSocket) -> None:
        try:
            await direct.writable()
        finally:
            self._waiting_writable = False
        self.flush()

    async def drain(self) -> None:
        """Write what is still queued (the subscriber is closed: nothing more comes), waiting
        for a slow client, until all is written or the client is gone."""
        direct = self._direct
        if direct is None:
            if self._written is not None:
                await self._written.wait()
            return
        while self.subscriber.outbox:
            state = self._write_queued(direct)
            if state is SocketState.GONE:
                return
            if state is SocketState.PAUSED:
                await direct.writable()

    async def _write_through_asgi(self) -> None:
        """Send the outbox in order through ASGI (a server other than uvicorn's sans-I/O), until
        it ends."""
        outbox = self.subscriber.outbox
        send = self.websocket.send
        try:
            # Wait only when the outbox is empty: under fan-out the wake-up, not the send, costs.
            while await outbox.wait():
                while (item := outbox.get_nowait()) is not None:
                    await send({"type": "websocket.send", "text": frame(item)})
        except (WebSocketDisconnect, OSError, RuntimeError):
            self._gone()
        finally:
            if self._written is not None:
                self._written.set()

    # Reading -----------------------------------------------------------------------------------

    async def read(self) -> None:
        """Handle client messages until the subscriber closes or the client leaves."""
        subscriber = self.subscriber
        receive = self.websocket.receive
        while not subscriber.closed:
            with anyio.CancelScope() as self._receiving:
                message = await receive()
            self._receiving = None
            if subscriber.closed:
                return
            if message["type"] == "websocket.disconnect":
                self._gone()
                return
            text = message.get("text")
            if text is None:
                subscriber.close(CLOSE_UNSUPPORTED, "only JSON text frames are accepted")
                return
            try:
                # Not cancelled when the subscriber closes meanwhile: handling is short, and a
                # database read cut halfway would spoil its pooled connection.
                await self._handle(parse(text))
            except ProtocolError as exc:
                subscriber.push(error_message("VALIDATION_ERROR", exc.message, exc.details))

    def _interrupt(self) -> None:
        """The subscriber closed: stop the reader if it waits for a message (one it handles
        is handled to the end)."""
        if self._receiving is not None:
            self._receiving.cancel()

    def _gone(self) -> None:
        self.client_gone = True
        if self._written is not None:
            self._written.set()
        self.subscriber.close(CLOSE_NORMAL, "client went away")

    def _watch_expiry(self) -> None:
        """Close the subscriber when its token expires (checked again when the timer fires: an
        ``auth`` message may have renewed it meanwhile)."""
        self._expiry = None
        subscriber = self.subscriber
        if subscriber.closed:
            return
        remaining = (subscriber.expires_at - utcnow()).total_seconds()
        if remaining <= 0:
            subscriber.close(CLOSE_TOKEN_EXPIRED, "the access token expired; reconnect")
            return
        loop = asyncio.get_running_loop()
        self._expiry = loop.call_later(remaining, self._watch_expiry)

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


def _frame(item: Outgoing) -> bytes:
    """The WebSocket frame of an outgoing item (an event's is framed once for its audience)."""
    if isinstance(item, EventOut):
        return item.frame(text_frame)
    return text_frame(frame(item))
