"""The fallback transports: Server-Sent Events, then polling the event log.

Each runs ONE reader for every subscription of the integration (the cache's all-channel feed
and the app's own subscriptions alike): one SSE stream, or one read of the log per poll, from
the lowest position of the subscriptions, with the filters they all share (none when they
differ). Every event read is offered to every subscription, which takes it only when it is past
its position and matches its channel and filters, so each still gets every event once and in
order. One reader means one request per poll: an event-log breaker in its half-open state lets
exactly that request through, and its answer is used rather than thrown away.

An open event-log breaker is waited out (for the ``retry_in`` it gives), not counted as a failed
connection: it says the log was failing, which the connection already knows, and meanwhile the
WebSocket probe keeps trying the socket (see ``_manager``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import httpx2

from .._errors import CircuitOpenError, NotFoundError, ServiceError
from ..types import Event, EventPage
from ._sse import SseDecoder
from ._tasks import first_of

if TYPE_CHECKING:
    from ._manager import RealtimeManager
    from ._subscription import Subscription

#: A ``since`` beyond any log: the answer is a reset whose ``next_since`` is the head.
_BEYOND_THE_LOG = 2**53
#: Events per read of the log (its maximum).
_PAGE = 1000


class StreamEnded(ConnectionError):
    """The SSE stream ended (the server closes it when the access token expires)."""


class StreamRefused(ConnectionError):
    """The SSE endpoint answered with an error status."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the event stream answered {status}")
        self.status = status


def shared_query(subscriptions: Sequence[Subscription], *, log_only: bool) -> dict[str, Any]:
    """The channel and filters every one of ``subscriptions`` has (nothing when they differ).

    ``log_only``: only the filters the event log applies itself (polling); SSE takes them all.
    """
    if not subscriptions:
        return {}
    first = subscriptions[0]
    filters = first.log_filters() if log_only else dict(first.filters)
    for other in subscriptions[1:]:
        theirs = other.log_filters() if log_only else dict(other.filters)
        if other.channel != first.channel or theirs != filters:
            return {}
    query: dict[str, Any] = dict(filters)
    if first.channel != "*":
        query["channel"] = first.channel
    return query


async def read_log(manager: RealtimeManager, **query: Any) -> EventPage:
    """One read of the event log; an open breaker is waited out, not raised.

    Raises:
        ServiceError: the log could not be read (no answer, an error status).
    """
    while True:
        try:
            return await manager.events.get_events(**query)
        except CircuitOpenError as exc:
            # When it turns half-open this read is its probe, and its answer is used.
            await manager.clock.sleep(exc.retry_in or manager.options.poll_interval)


async def ensure_positions(manager: RealtimeManager, subscriptions: Sequence[Subscription]) -> None:
    """Give every subscription without a position the log's head (one read for all).

    Raises:
        ServiceError: the event log could not be read.
    """
    if any(subscription.position is None for subscription in subscriptions):
        page = await read_log(manager, since=_BEYOND_THE_LOG, limit=1)
        for subscription in subscriptions:
            subscription.start_at(page.next_since)


def _lowest(subscriptions: Sequence[Subscription]) -> int:
    return min(subscription.position or 0 for subscription in subscriptions)


def _reset_behind(
    manager: RealtimeManager, subscriptions: Sequence[Subscription], head: int
) -> None:
    # The events after the lowest position are gone: every subscription behind ``head`` may
    # have missed some, so each is told to refetch.
    for subscription in subscriptions:
        if (subscription.position or 0) < head:
            manager.reset(subscription, head)


def _offer(manager: RealtimeManager, subscriptions: Sequence[Subscription], event: Event) -> None:
    for subscription in subscriptions:
        manager.take(subscription, event)


async def _subscriptions_changed(manager: RealtimeManager) -> None:
    await manager.changed.wait()


async def _wait_for_subscriptions(manager: RealtimeManager) -> list[Subscription]:
    while True:
        manager.changed.clear()
        active = manager.active_subscriptions()
        if active:
            return active
        await manager.changed.wait()


class _Restart(Exception):
    """The stream no longer serves the subscriptions there are (some were refused)."""


async def sse_session(manager: RealtimeManager) -> None:
    """Stream every subscription's events from one ``/events`` stream, resuming with
    ``Last-Event-ID`` from the lowest position; a new subscription with other filters restarts
    it (from the positions, so nothing is missed).

    Raises:
        StreamRefused: an error status (401 after the token could not be renewed, 404...).
        StreamEnded: the server ended the stream.
        httpx2.TransportError: the connection failed or the heartbeat stopped (read timeout).
        ServiceError: the position could not be learnt from the event log.
    """
    while True:
        subscriptions = await _wait_for_subscriptions(manager)
        await ensure_positions(manager, subscriptions)
        query = shared_query(subscriptions, log_only=False)
        with contextlib.suppress(_Restart):
            await first_of(_stream(manager, subscriptions, query), _subscriptions_changed(manager))


async def _stream(
    manager: RealtimeManager, subscriptions: list[Subscription], query: dict[str, Any]
) -> None:
    options = manager.options
    token = await manager.token()
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "text/event-stream",
        "Last-Event-ID": str(_lowest(subscriptions)),
    }
    timeout = httpx2.Timeout(options.heartbeat_timeout, read=options.sse_heartbeat_timeout)
    async with manager.http.stream(
        "GET", manager.sse_url, params=query, headers=headers, timeout=timeout
    ) as response:
        if response.status_code == 401:
            await manager.token_rejected(token)
        if response.status_code != 200:
            raise StreamRefused(response.status_code)
        manager.went_live()
        decoder = SseDecoder()
        async for chunk in response.aiter_text():
            for message in decoder.feed(chunk):
                if message.comment is not None:
                    continue
                if message.event == "reset":
                    _reset_behind(manager, subscriptions, int(json.loads(message.data)["position"]))
                elif message.event == "error":
                    if not query:
                        raise StreamEnded(f"the event stream failed: {message.data}")
                    # The filters every subscription shares were refused (no longer a member):
                    # those subscriptions stop, as on a WebSocket.
                    for subscription in subscriptions:
                        manager.refused(subscription, json.loads(message.data))
                    raise _Restart
                elif message.data:
                    _offer(manager, subscriptions, Event.model_validate_json(message.data))
    raise StreamEnded("the event stream ended")


async def polling_session(manager: RealtimeManager) -> None:
    """Read every subscription's events from the event log, one read per ``poll_interval``.

    Filters the log cannot apply (``base_id``, ``aggregate_id``), and those the subscriptions
    do not share, are applied by each subscription as it takes events.

    Raises:
        ServiceError: the event log could not be read (an open breaker is waited out).
    """
    while True:
        subscriptions = await _wait_for_subscriptions(manager)
        await ensure_positions(manager, subscriptions)
        query = shared_query(subscriptions, log_only=True)
        since = _lowest(subscriptions)
        try:
            page = await read_log(manager, since=since, limit=_PAGE, **query)
        except NotFoundError as exc:
            if not query:
                raise
            # The filters every subscription shares name a workspace or table the caller
            # cannot see (any more): those subscriptions stop, as a WebSocket refuses them.
            for subscription in subscriptions:
                manager.refused(subscription, {"type": exc.type, "message": exc.message})
            continue
        manager.went_live()
        if page.reset:
            _reset_behind(manager, subscriptions, page.next_since)
            continue
        for event in page.data:
            _offer(manager, subscriptions, event)
        # ``next_since`` may pass events these subscriptions cannot see: none of them is missed.
        for subscription in subscriptions:
            if subscription.active and page.next_since > (subscription.position or 0):
                subscription.position = page.next_since
        if len(page.data) < _PAGE:
            # A new subscription is read for at once rather than after the interval.
            await first_of(
                manager.clock.sleep(manager.options.poll_interval),
                _subscriptions_changed(manager),
            )


FALLBACK_ERRORS: tuple[type[BaseException], ...] = (
    httpx2.TransportError,
    ServiceError,
    StreamEnded,
    StreamRefused,
)
