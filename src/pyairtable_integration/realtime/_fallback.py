"""The fallback transports: Server-Sent Events, then polling the event log.

Both run one feed per subscription (SSE streams take one channel and one set of filters, and
the event log is read per filter), all under one session that starts and stops feeds as
subscriptions come and go. Each feed first learns a position when its subscription has none
(the log's head, from a read past it), so that resuming later never skips an event.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import httpx2

from .._errors import ServiceError
from ..types import Event
from ._sse import SseDecoder

if TYPE_CHECKING:
    from ._manager import RealtimeManager
    from ._subscription import Subscription

#: A ``since`` beyond any log: the answer is a reset whose ``next_since`` is the head.
_BEYOND_THE_LOG = 2**53
#: Events per read of the log (its maximum).
_PAGE = 1000

Feed = Callable[["RealtimeManager", "Subscription"], Awaitable[None]]


class StreamEnded(ConnectionError):
    """The SSE stream ended (the server closes it when the access token expires)."""


class StreamRefused(ConnectionError):
    """The SSE endpoint answered with an error status."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the event stream answered {status}")
        self.status = status


async def ensure_position(manager: RealtimeManager, subscription: Subscription) -> None:
    """Give ``subscription`` the log's head as its position when it has none yet.

    Raises:
        ServiceError: the event log could not be read.
    """
    if subscription.position is None:
        page = await manager.events.get_events(since=_BEYOND_THE_LOG, limit=1)
        subscription.start_at(page.next_since)


async def run_per_subscription(manager: RealtimeManager, feed: Feed) -> None:
    """Run ``feed`` for every active subscription until one fails; follow (un)subscriptions.

    Raises:
        Exception: whatever the failing feed raised.
    """
    feeds: dict[str, asyncio.Task[None]] = {}
    try:
        while True:
            changed = manager.changed
            changed.clear()
            active = {sub.id: sub for sub in manager.active_subscriptions()}
            for sub_id in [sub_id for sub_id in feeds if sub_id not in active]:
                feeds.pop(sub_id).cancel()
            for sub_id, subscription in active.items():
                if sub_id not in feeds:
                    feeds[sub_id] = asyncio.ensure_future(feed(manager, subscription))
            waiter = asyncio.ensure_future(changed.wait())
            try:
                done, _ = await asyncio.wait(
                    [waiter, *feeds.values()], return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                waiter.cancel()
            for sub_id, task in list(feeds.items()):
                if task in done:
                    del feeds[sub_id]
                    error = None if task.cancelled() else task.exception()
                    if error is not None:
                        raise error
    finally:
        for task in feeds.values():
            task.cancel()
        await asyncio.gather(*feeds.values(), return_exceptions=True)


async def sse_feed(manager: RealtimeManager, subscription: Subscription) -> None:
    """Stream ``subscription``'s events from ``/events``, resuming with ``Last-Event-ID``.

    Raises:
        StreamRefused: an error status (401 after the token could not be renewed, 404...).
        StreamEnded: the server ended the stream.
        httpx2.TransportError: the connection failed or the heartbeat stopped (read timeout).
        ServiceError: the position could not be learnt from the event log.
    """
    await ensure_position(manager, subscription)
    options = manager.options
    params: dict[str, Any] = dict(subscription.filters)
    if subscription.channel != "*":
        params["channel"] = subscription.channel
    token = await manager.token()
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "text/event-stream",
        "Last-Event-ID": str(subscription.position),
    }
    timeout = httpx2.Timeout(options.heartbeat_timeout, read=options.sse_heartbeat_timeout)
    async with manager.http.stream(
        "GET", manager.sse_url, params=params, headers=headers, timeout=timeout
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
                    manager.reset(subscription, int(json.loads(message.data)["position"]))
                elif message.event == "error":
                    manager.refused(subscription, json.loads(message.data))
                    return
                elif message.data:
                    manager.take(subscription, Event.model_validate_json(message.data))
    raise StreamEnded("the event stream ended")


async def polling_feed(manager: RealtimeManager, subscription: Subscription) -> None:
    """Read ``subscription``'s events from the event log every ``poll_interval`` seconds.

    Filters the log cannot apply (``base_id``, ``aggregate_id``) are applied here.

    Raises:
        ServiceError: the event log could not be read.
    """
    await ensure_position(manager, subscription)
    channel = None if subscription.channel == "*" else subscription.channel
    filters = subscription.log_filters()
    while True:
        since = subscription.position or 0
        page = await manager.events.get_events(
            since=since,
            channel=channel,
            workspace_id=filters.get("workspace_id"),
            table_id=filters.get("table_id"),
            limit=_PAGE,
        )
        manager.went_live()
        if page.reset:
            manager.reset(subscription, page.next_since)
            continue
        for event in page.data:
            manager.take(subscription, event)
        # ``next_since`` may pass events this caller cannot see: none of them is missed.
        if subscription.position is None or page.next_since > subscription.position:
            subscription.position = page.next_since
        if len(page.data) < _PAGE:
            await manager.clock.sleep(manager.options.poll_interval)


FALLBACK_ERRORS: tuple[type[BaseException], ...] = (
    httpx2.TransportError,
    ServiceError,
    StreamEnded,
    StreamRefused,
)
