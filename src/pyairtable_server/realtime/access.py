"""Who a realtime connection is and which workspaces its subscriptions may reach."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select

from .. import events
from ..db.models import DataBase, DataTable, WorkspaceMember
from ..deps import authenticate
from ..errors import NotFound
from ..ids import looks_like
from ..services import AppServices
from .hub import Subscriber
from .interest import Interest


@dataclass(frozen=True)
class Viewer:
    """An authenticated realtime client: its user, session, token expiry and workspaces at
    connect time, and the log's head read before its session was found live."""

    user_id: str
    session_id: str
    expires_at: datetime
    #: Each workspace and the ``seq`` from which its events are the viewer's (``joined_seq``).
    joined: Mapping[str, int]
    authenticated_at: int

    @property
    def workspaces(self) -> frozenset[str]:
        return frozenset(self.joined)


async def authenticate_viewer(services: AppServices, token: str) -> Viewer:
    """Check an access token exactly as the REST API does and load the user's workspaces.

    Raises ``AuthError`` when the token, its session or its user is not valid.
    """
    async with services.db.reader() as session:
        # Read first: a session that ends after this read leaves a notice above it in the log.
        head = await events.position(session)
        principal = await authenticate(token, session, services)
        memberships = await session.execute(
            select(WorkspaceMember.workspace_id, WorkspaceMember.joined_seq).where(
                WorkspaceMember.user_id == principal.id
            )
        )
        return Viewer(
            user_id=principal.id,
            session_id=principal.session.id,
            expires_at=principal.claims.expires_at,
            joined={workspace_id: int(seq) for workspace_id, seq in memberships},
            authenticated_at=head,
        )


def subscriber_for(viewer: Viewer, *, outbox_size: int) -> Subscriber:
    """A hub subscriber for an authenticated connection."""
    return Subscriber(
        viewer.user_id,
        set(viewer.workspaces),
        joined=viewer.joined,
        outbox_size=outbox_size,
        expires_at=viewer.expires_at,
        session_id=viewer.session_id,
        authenticated_at=viewer.authenticated_at,
    )


async def scope_of(services: AppServices, workspaces: set[str], interest: Interest) -> str | None:
    """The workspace the interest's filters confine it to (None: all the caller's workspaces).

    Raises ``NotFound`` when a ``workspace_id``, ``base_id`` or ``table_id`` filter names
    something outside the caller's workspaces, existing or not (the two look the same).
    """
    scope: str | None = None
    workspace_id = interest.get("workspace_id")
    if workspace_id is not None:
        if workspace_id not in workspaces:
            raise NotFound("No such workspace.")
        scope = workspace_id
    base_id = interest.get("base_id")
    if base_id is not None:
        query = select(DataBase.workspace_id).where(DataBase.id == base_id)
        owner = await _owner(services, query, looks_like(base_id, "bas"), workspaces, "base")
        scope = scope or owner
    table_id = interest.get("table_id")
    if table_id is not None:
        query = select(DataTable.workspace_id).where(DataTable.id == table_id)
        owner = await _owner(services, query, looks_like(table_id, "tbl"), workspaces, "table")
        scope = scope or owner
    return scope


async def _owner(
    services: AppServices,
    query: Select[str],
    well_formed: bool,
    workspaces: set[str],
    noun: str,
) -> str:
    """The workspace ``query`` finds, if it is one of ``workspaces``; else ``NotFound``."""
    owner = None
    if well_formed:
        async with services.db.reader() as session:
            owner = await session.scalar(query)
    if owner is None or owner not in workspaces:
        raise NotFound(f"No such {noun}.")
    return owner
