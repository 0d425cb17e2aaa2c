"""``GET /events``: the Server-Sent Events endpoint of contract §8.

Each event is sent as ``id: <seq>``, ``event: <type>``, ``data: <event JSON>``; a browser's
``EventSource`` resends the last id as ``Last-Event-ID`` when it reconnects, and the stream
resumes after it. When the missed events are gone, an ``event: reset`` frame (whose ``id`` is the
position the stream continues from) tells the client to refetch. A comment line goes out every
15 s as a heartbeat (sse-starlette's ping). The stream ends when the access token expires (the
client reconnects with a fresh token and its last id, losing nothing) or when the client is too
slow to keep up with its bounded outbox. When its session ends (logout, password change...), an
``event: error`` frame (``AUTH_ERROR``) goes out last: reconnecting with that token is useless.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.types import Receive, Scope, Send

from ..clock import utcnow
from ..deps import Services
from ..errors import AuthError, RateLimited, ServiceUnavailable, ValidationFailed, error_responses
from ..http.rate_limit import client_ip
from ..services import AppServices
from .access import authenticate_viewer, scope_of, subscriber_for
from .admission import Refused, Ticket
from .hub import (
    CLOSE_TOKEN_EXPIRED,
    EventOut,
    Outgoing,
    Published,
    Subscriber,
    Subscription,
)
from .interest import Channel, Interest
from .protocol import Identifier

router = APIRouter(tags=["realtime"])
#: What a stream refused for the connection caps is told to wait before trying again.
REFUSED_RETRY_AFTER_SECONDS = 10

_STREAM_DESCRIPTION = (
    "A `text/event-stream`: each event as `id: <seq>`, `event: <type>`, `data: <event JSON>`; "
    "`event: reset` when the events after `Last-Event-ID` are gone (refetch); a comment line "
    "every 15 s."
)


@router.get(
    "/events",
    response_class=EventSourceResponse,
    summary="Stream events (Server-Sent Events)",
    responses={
        200: {"content": {"text/event-stream": {}}, "description": _STREAM_DESCRIPTION},
        **error_responses(401, 404, 405, 422, 429, 500, 503),
    },
)
async def stream_events(
    request: Request,
    services: Services,
    channel: Annotated[list[Channel], Query(description="Repeatable; none: all.")] = [],  # noqa: B006
    workspace_id: Annotated[Identifier | None, Query()] = None,
    base_id: Annotated[Identifier | None, Query()] = None,
    table_id: Annotated[Identifier | None, Query()] = None,
    aggregate_id: Annotated[Identifier | None, Query()] = None,
    token: Annotated[
        str | None,
        Query(
            max_length=8192,
            description="The access token, for clients that "
            "cannot send headers (EventSource). Prefer Authorization.",
        ),
    ] = None,
    last_event_id: Annotated[int | None, Query(ge=0, description="As `Last-Event-ID`.")] = None,
    last_event_id_header: Annotated[
        str | None, Header(alias="Last-Event-ID", max_length=32)
    ] = None,
) -> EventSourceResponse:
    """The caller's events, live, optionally resuming after ``Last-Event-ID``.

    Raises ``AuthError`` (401) without a valid token, ``NotFound`` (404) when a filter names
    something outside the caller's workspaces, ``ValidationFailed`` (422) for a bad
    ``Last-Event-ID``.
    """
    bearer = _bearer(request) or token
    if bearer is None:
        raise AuthError("Authentication required: send 'Authorization: Bearer <access token>'.")
    since = last_event_id if last_event_id is not None else _since(last_event_id_header)
    viewer = await authenticate_viewer(services, bearer)
    interest = Interest.of(
        channel,
        {
            "workspace_id": workspace_id,
            "base_id": base_id,
            "table_id": table_id,
            "aggregate_id": aggregate_id,
        },
    )
    scope = await scope_of(services, set(viewer.workspaces), interest)
    ticket = _admit(services, client_ip(request.scope), viewer.user_id)
    hub = services.hub
    subscriber = subscriber_for(viewer, outbox_size=services.settings.realtime_outbox_size)
    hub.attach(subscriber)
    sub = hub.subscribe(subscriber, "sse", interest, since=since, scope_workspace=scope)

    def ended() -> None:
        hub.detach(subscriber)
        subscriber.release()
        ticket.release()

    return _EventStream(
        _frames(services, subscriber),
        ended=ended,
        ping=services.settings.realtime_sse_heartbeat_seconds,
        send_timeout=services.settings.realtime_send_timeout_seconds,
        data_sender_callable=lambda: _feed(services, subscriber, sub, resume=since is not None),
        headers={"Cache-Control": "no-store"},
    )


class _EventStream(EventSourceResponse):
    """A stream that gives back its connection slot and subscriber however it ends, also when
    the client leaves before the first frame (then the frames generator never starts)."""

    def __init__(self, *args: Any, ended: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ended = ended

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._ended()


def _admit(services: AppServices, ip: str, user_id: str) -> Ticket:
    """A connection slot for the stream. Raises ``ServiceUnavailable`` (503) when the server is
    full, ``RateLimited`` (429) past the address's or the user's cap."""
    try:
        ticket = services.admission.admit(ip)
    except Refused as exc:
        if exc.overloaded:
            raise ServiceUnavailable(
                "The server has too many realtime connections; try again later.",
                headers={"Retry-After": str(REFUSED_RETRY_AFTER_SECONDS)},
            ) from exc
        raise RateLimited(REFUSED_RETRY_AFTER_SECONDS, f"Refused: {exc.message}.") from exc
    try:
        ticket.bind(user_id)
    except Refused as exc:
        ticket.release()
        raise RateLimited(REFUSED_RETRY_AFTER_SECONDS, f"Refused: {exc.message}.") from exc
    return ticket


def _bearer(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() or None if scheme.lower() == "bearer" else None


def _since(header: str | None) -> int | None:
    if header is None or not header.strip():
        return None
    try:
        value = int(header.strip())
    except ValueError:
        value = -1
    if value < 0:
        raise ValidationFailed.field("Last-Event-ID", "must be a seq (a whole number ≥ 0)")
    return value


async def _feed(
    services: AppServices, subscriber: Subscriber, sub: Subscription, *, resume: bool
) -> None:
    """Replay what was missed, then end the stream when the token expires."""
    if resume:
        await services.hub.catch_up(subscriber, sub)
    remaining = (subscriber.expires_at - utcnow()).total_seconds()
    await anyio.sleep(max(remaining, 0))
    subscriber.close(CLOSE_TOKEN_EXPIRED, "the access token expired; reconnect")


async def _frames(
    services: AppServices, subscriber: Subscriber
) -> AsyncIterator[ServerSentEvent | bytes]:
    outbox = subscriber.outbox
    try:
        while (item := await outbox.get()) is not None:
            sent = _event(item)
            if sent is not None:
                yield sent
            if isinstance(item, dict) and item["type"] == "subscription_error":
                return
        if subscriber.close_error is not None:
            # The session ended (logout, password change...): say so, so the client does not
            # reconnect with the same token.
            yield ServerSentEvent(data=json.dumps(subscriber.close_error), event="error")
    finally:
        services.hub.detach(subscriber)
        subscriber.release()


def _event(item: Outgoing) -> ServerSentEvent | bytes | None:
    if isinstance(item, EventOut):
        # Encoded once for every stream that shares the item (the same filters).
        return item.sse(_encode_event)
    if item["type"] == "subscription_reset":
        position = item["position"]
        return ServerSentEvent(data=f'{{"position":{position}}}', event="reset", id=str(position))
    if item["type"] == "subscription_error":
        # The stream's filters now reach outside the caller's workspaces: say so, then end.
        return ServerSentEvent(data=json.dumps(item["error"]), event="error")
    # Confirmations have no SSE form: the stream itself is the confirmation.
    return None


def _encode_event(published: Published) -> bytes:
    return ServerSentEvent(
        data=published.json, event=published.event["type"], id=str(published.seq)
    ).encode()
