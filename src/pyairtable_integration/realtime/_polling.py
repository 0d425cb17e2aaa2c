"""The last rung of the ladder: polling the event log, as an async iterator of frames.

ONE reader serves every subscription (the cache's all-channel feed and the app's own alike):
one read of the log per poll, from the lowest position, with the filters they all share (none
when they differ). Every event read is offered to every subscription, which takes it only when
it is past its position and matches, so each still gets every event once and in order. One
reader means one request per poll: an event-log breaker in its half-open state lets exactly that
request through (see ``_log``).

Imports nothing of the connection: it is given the subscriptions as ``Wanted`` snapshots with
their positions, a way to read the log and a way to sleep.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from .._errors import NotFoundError
from ..types import EventPage
from ._frames import (
    CaughtUp,
    Delivered,
    Frame,
    Missed,
    Opened,
    Refused,
    Wanted,
    lowest,
    shared_query,
)

#: Events per read of the log (its maximum).
PAGE = 1000


async def polling_frames(
    wanted: list[Wanted],
    *,
    read: Callable[..., Awaitable[EventPage]],
    sleep: Callable[[float], Awaitable[object]],
    interval: float,
) -> AsyncGenerator[Frame, None]:
    """Read the events of ``wanted`` from the log, one read per ``interval`` once caught up.

    Filters the log cannot apply (``base_id``, ``aggregate_id``), and those the subscriptions
    do not share, are applied by each subscription as it takes events. Ends (after a ``Refused``
    for all) when the log answers 404 for the shared filters: the caller cannot see them.

    Raises:
        ServiceError: the event log could not be read.
    """
    query: dict[str, Any] = shared_query(wanted, log_only=True)
    since = lowest(wanted)
    opened = False
    while True:
        try:
            page = await read(since=since, limit=PAGE, **query)
        except NotFoundError as exc:
            if not query:
                raise
            # The filters every subscription shares name a workspace or table the caller
            # cannot see (any more): those subscriptions stop, as a WebSocket refuses them.
            yield Refused({"type": exc.type, "message": exc.message})
            return
        if not opened:
            opened = True
            yield Opened()
        if page.reset:
            yield Missed(page.next_since)
            since = max(since, page.next_since)
            continue
        for event in page.data:
            yield Delivered(event)
        # ``next_since`` may pass events these subscriptions cannot see: none of them is missed.
        yield CaughtUp(page.next_since)
        since = max(since, page.next_since)
        if len(page.data) < PAGE:
            await sleep(interval)
