"""The middle rung of the ladder: one Server-Sent Events stream, as an async iterator of frames.

ONE stream serves every subscription: it asks ``/events`` for the filters they all share (none
when they differ) and resumes with ``Last-Event-ID`` from the lowest position; each subscription
takes only the events past its own position that match it. The connection restarts the stream
(from the positions, so nothing is missed) when subscriptions come or go.

Imports nothing of the connection: it is given the subscriptions as ``Wanted`` snapshots, every
one with a position, and a token.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator

import httpx2

from ..types import Event
from ._frames import Delivered, Frame, Missed, Opened, Refused, Wanted, lowest, shared_query
from ._sse import SseDecoder


class StreamEnded(ConnectionError):
    """The SSE stream ended (the server closes it when the access token expires)."""


class StreamRefused(ConnectionError):
    """The SSE endpoint answered with an error status (``status``; 401: renew the token)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the event stream answered {status}")
        self.status = status


async def sse_frames(
    wanted: list[Wanted],
    *,
    http: httpx2.AsyncClient,
    url: str,
    token: str,
    connect_timeout: float,
    heartbeat_timeout: float,
) -> AsyncGenerator[Frame, None]:
    """Stream the events of ``wanted`` (each with a position) from one ``/events`` stream.

    Ends (after a ``Refused`` for all) when the backend refuses the shared filters.

    Raises:
        StreamRefused: an error status (401: the token was refused).
        StreamEnded: the server ended the stream, or failed it without shared filters.
        httpx2.TransportError: the connection failed or the heartbeat stopped (read timeout).
    """
    query = shared_query(wanted, log_only=False)
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "text/event-stream",
        "Last-Event-ID": str(lowest(wanted)),
    }
    timeout = httpx2.Timeout(connect_timeout, read=heartbeat_timeout)
    async with http.stream("GET", url, params=query, headers=headers, timeout=timeout) as response:
        if response.status_code != 200:
            raise StreamRefused(response.status_code)
        yield Opened()
        decoder = SseDecoder()
        async for chunk in response.aiter_text():
            for message in decoder.feed(chunk):
                if message.comment is not None:
                    continue
                if message.event == "reset":
                    yield Missed(int(json.loads(message.data)["position"]))
                elif message.event == "error":
                    if not query:
                        raise StreamEnded(f"the event stream failed: {message.data}")
                    # The filters every subscription shares were refused (no longer a member):
                    # those subscriptions stop, as on a WebSocket.
                    yield Refused(json.loads(message.data))
                    return
                elif message.data:
                    yield Delivered(Event.model_validate_json(message.data))
    raise StreamEnded("the event stream ended")
