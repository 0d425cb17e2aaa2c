"""The event log (contract §8): changes since a position, for polling clients and resumption."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from ..db.models import WorkspaceMember
from ..deps import DB, CurrentUser, Services
from ..errors import error_responses
from ..events import DEFAULT_EVENTS_PER_READ, MAX_EVENTS_PER_READ, read
from ..realtime.access import scope_of
from ..realtime.interest import FilterKey, Interest
from ..schemas.common import Text
from ..schemas.events import EventOut, EventPageOut

router = APIRouter(
    prefix="/events", tags=["realtime"], responses=error_responses(401, 422, 429, 500)
)

# ``Text``: filter values go to the database as they are, and PostgreSQL refuses NUL in text.
Channel = Annotated[
    list[Text] | None, Query(max_length=10, description="Repeatable: record, table, field…")
]


@router.get("", response_model=EventPageOut, responses=error_responses(404))
async def get_events(
    caller: CurrentUser,
    db: DB,
    services: Services,
    since: Annotated[int, Query(ge=0, description="The last seq the client has seen.")] = 0,
    channel: Channel = None,
    workspace_id: Annotated[Text | None, Query(max_length=64)] = None,
    base_id: Annotated[Text | None, Query(max_length=64)] = None,
    table_id: Annotated[Text | None, Query(max_length=64)] = None,
    aggregate_id: Annotated[Text | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_EVENTS_PER_READ)] = DEFAULT_EVENTS_PER_READ,
) -> EventPageOut:
    """The caller's events after ``since`` in order. ``reset: true`` means the events after
    ``since`` are gone (retention) and the client must refetch its data.

    Filters match the event's top-level fields, as on WebSocket and SSE. Raises ``NotFound``
    (404) when ``workspace_id``, ``base_id`` or ``table_id`` names something outside the
    caller's workspaces, existing or not, as SSE does.
    """
    filters: dict[FilterKey, str | None] = {
        "workspace_id": workspace_id,
        "base_id": base_id,
        "table_id": table_id,
        "aggregate_id": aggregate_id,
    }
    memberships = await db.scalars(
        select(WorkspaceMember.workspace_id).where(WorkspaceMember.user_id == caller.id)
    )
    # 404 for filters outside the caller's workspaces; the workspace they lie in, if any, also
    # narrows the read to that workspace's index.
    scope = await scope_of(services, set(memberships), Interest.of((), filters))
    filters["workspace_id"] = scope or workspace_id
    page = await read(
        db,
        caller.id,
        since=since,
        limit=limit,
        channels=channel or (),
        filters={key: value for key, value in filters.items() if value is not None},
    )
    return EventPageOut(
        data=[EventOut.model_validate(event) for event in page.data],
        next_since=page.next_since,
        reset=page.reset,
    )
