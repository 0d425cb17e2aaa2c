"""The event log: the changes the caller may see, read from a position (contract §8).

This is the polling side of realtime: the WebSocket and SSE clients push the same events, and
a client that loses its socket can catch up here from the last ``seq`` it saw.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from .._errors import EventsResetError
from ..types import Event, EventPage
from ._base import Service


class EventService(Service):
    """``/events``: the caller's events after a ``seq``, in order, a page at a time."""

    name = "realtime"

    async def get_events(
        self,
        *,
        since: int | None = None,
        channel: str | Sequence[str] | None = None,
        workspace_id: str | None = None,
        base_id: str | None = None,
        table_id: str | None = None,
        aggregate_id: str | None = None,
        limit: int | None = None,
    ) -> EventPage:
        """One page of the caller's events after ``since`` (from the start when left out).

        ``channel`` (one or several: ``record``, ``table``…), ``workspace_id``, ``base_id``,
        ``table_id`` and ``aggregate_id`` (one record, table… by its id) narrow the events;
        ``next_since`` is where to read on from. ``reset`` True means the events after ``since``
        are gone and the caller must refetch its data.

        Raises:
            InvalidRequestError: ``limit`` is out of range (1 to 1000).
            NotFoundError: ``workspace_id``, ``base_id`` or ``table_id`` names something outside
                the caller's workspaces.
        """
        channels = [channel] if isinstance(channel, str) else channel
        return await self._call(
            EventPage,
            "GET",
            "/events",
            params={
                "since": since,
                "channel": None if channels is None else list(channels),
                "workspace_id": workspace_id,
                "base_id": base_id,
                "table_id": table_id,
                "aggregate_id": aggregate_id,
                "limit": limit,
            },
        )

    async def iter_events(
        self,
        *,
        since: int = 0,
        channel: str | Sequence[str] | None = None,
        workspace_id: str | None = None,
        base_id: str | None = None,
        table_id: str | None = None,
        aggregate_id: str | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[Event]:
        """Every event after ``since`` up to now, fetching pages as the loop goes on.

        The filters are ``get_events``'s. The loop ends at the first empty page (the caller is
        caught up). A reset is raised, not skipped: ending quietly would look like "caught up"
        while changes were lost.

        Raises:
            EventsResetError: the events after the position reached are gone; refetch the data
                and read on from the error's ``next_since``.
        """
        position = since
        while True:
            page = await self.get_events(
                since=position,
                channel=channel,
                workspace_id=workspace_id,
                base_id=base_id,
                table_id=table_id,
                aggregate_id=aggregate_id,
                limit=limit,
            )
            if page.reset:
                raise EventsResetError(
                    f"The events after {position} are gone; refetch and read on from "
                    f"{page.next_since}.",
                    next_since=page.next_since,
                    service=self.name,
                )
            if not page.data:
                return
            for event in page.data:
                yield event
            position = page.next_since
