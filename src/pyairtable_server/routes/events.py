"""The event log (contract §8): changes since a position, for polling clients and resumption."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ..deps import DB, CurrentUser
from ..errors import error_responses
from ..events import DEFAULT_EVENTS_PER_READ, MAX_EVENTS_PER_READ, read
from ..schemas.common import Text
from ..schemas.events import EventOut, EventPageOut

router = APIRouter(
    prefix="/events", tags=["realtime"], responses=error_responses(401, 422, 429, 500)
)

# ``Text``: filter values go to the database as they are, and PostgreSQL refuses NUL in text.
Channel = Annotated[
    list[Text] | None, Query(max_length=10, description="Repeatable: record, table, field…")
]


@router.get("", response_model=EventPageOut)
async def get_events(
    caller: CurrentUser,
    db: DB,
    since: Annotated[int, Query(ge=0, description="The last seq the client has seen.")] = 0,
    channel: Channel = None,
    workspace_id: Annotated[Text | None, Query(max_length=64)] = None,
    table_id: Annotated[Text | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_EVENTS_PER_READ)] = DEFAULT_EVENTS_PER_READ,
) -> EventPageOut:
    """The caller's events after ``since`` in order. ``reset: true`` means the events after
    ``since`` are gone (retention) and the client must refetch its data."""
    page = await read(
        db,
        caller.id,
        since=since,
        limit=limit,
        channels=channel or (),
        workspace_id=workspace_id,
        table_id=table_id,
    )
    return EventPageOut(
        data=[EventOut.model_validate(event) for event in page.data],
        next_since=page.next_since,
        reset=page.reset,
    )
