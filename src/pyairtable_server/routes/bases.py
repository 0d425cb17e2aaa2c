"""Base service (contract §5): the containers of tables inside a workspace."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import delete, func, select
from starlette.responses import Response

from ..access import require_workspace
from ..changes import Write
from ..clock import utcnow
from ..data.schema import require_base
from ..db.models import DataBase, DataField, DataTable
from ..db.paging import fetch_page
from ..deps import DB, CurrentUser
from ..errors import error_responses
from ..events import EventDraft, position
from ..ids import new_id
from ..schemas.bases import BaseIn, BaseList, BaseOut, BaseUpdate
from ..schemas.common import DEFAULT_PER_PAGE, PositionedPageMeta
from .common import BODY, SCOPED, PageNumber, PerPage

router = APIRouter(prefix="/bases", tags=["base"], responses=error_responses(401, 422, 429, 500))

TABLE_COUNT = (
    select(func.count())
    .where(DataTable.base_id == DataBase.id)
    .correlate(DataBase)
    .scalar_subquery()
)


def base_out(base: DataBase, table_count: int) -> BaseOut:
    return BaseOut(
        id=base.id,
        workspace_id=base.workspace_id,
        name=base.name,
        description=base.description,
        table_count=table_count,
        created_at=base.created_at,
        updated_at=base.updated_at,
    )


async def _counted(db: DB, base: DataBase) -> BaseOut:
    count = await db.scalar(select(func.count()).where(DataTable.base_id == base.id))
    return base_out(base, count or 0)


@router.get("", response_model=BaseList, responses=SCOPED)
async def list_bases(
    workspace_id: str,
    caller: CurrentUser,
    db: DB,
    page: PageNumber = 1,
    per_page: PerPage = DEFAULT_PER_PAGE,
) -> BaseList:
    """The workspace's bases, oldest first."""
    await require_workspace(db, caller.id, workspace_id, "base:read")
    event_position = await position(db)
    rows, total = await fetch_page(
        db,
        select(DataBase, TABLE_COUNT)
        .where(DataBase.workspace_id == workspace_id)
        .order_by(DataBase.created_at, DataBase.id),
        page=page,
        per_page=per_page,
    )
    return BaseList(
        data=[base_out(base, count) for base, count in rows],
        pagination=PositionedPageMeta.of(
            page=page, per_page=per_page, total=total, event_position=event_position
        ),
    )


@router.post("", status_code=201, response_model=BaseOut, responses={**SCOPED, **BODY})
async def create_base(body: BaseIn, change: Write) -> Response:
    """Create a base in a workspace (owners and admins)."""
    db, caller = change.db, change.caller
    workspace, _ = await require_workspace(db, caller.id, body.workspace_id, "base:write")
    now = utcnow()
    base = DataBase(
        id=new_id("bas"),
        workspace_id=workspace.id,
        name=body.name,
        description=body.description,
        created_at=now,
        updated_at=now,
    )
    db.add(base)
    out = base_out(base, 0)
    change.event(
        EventDraft(
            "base.created",
            aggregate_id=base.id,
            workspace_id=workspace.id,
            base_id=base.id,
            payload={"base": out.model_dump(mode="json")},
        )
    )
    change.audit(
        "base.created", resource_type="base", resource_id=base.id, workspace_id=workspace.id
    )
    return await change.commit(out, status_code=201)


@router.get("/{base_id}", response_model=BaseOut, responses=SCOPED)
async def get_base(base_id: str, caller: CurrentUser, db: DB) -> BaseOut:
    """One base."""
    base, _ = await require_base(db, caller.id, base_id, "base:read")
    return await _counted(db, base)


@router.put("/{base_id}", response_model=BaseOut, responses={**SCOPED, **BODY})
async def update_base(base_id: str, body: BaseUpdate, change: Write) -> Response:
    """Rename or re-describe a base; keys left out keep their value (owners and admins)."""
    db = change.db
    base, _ = await require_base(db, change.caller.id, base_id, "base:write")
    updates = body.model_dump(exclude_unset=True)
    for key, value in updates.items():
        setattr(base, key, value)
    base.updated_at = utcnow()
    await db.flush()
    out = await _counted(db, base)
    change.event(
        EventDraft(
            "base.updated",
            aggregate_id=base.id,
            workspace_id=base.workspace_id,
            base_id=base.id,
            payload={"base": out.model_dump(mode="json")},
        )
    )
    change.audit(
        "base.updated",
        resource_type="base",
        resource_id=base.id,
        workspace_id=base.workspace_id,
        details={"fields": sorted(updates)},
    )
    return await change.commit(out)


@router.delete("/{base_id}", status_code=204, responses=SCOPED)
async def delete_base(base_id: str, change: Write) -> Response:
    """Delete a base with its tables and records (owners and admins)."""
    db = change.db
    base, _ = await require_base(db, change.caller.id, base_id, "base:write")
    await change.indexes.drop(
        await db.scalars(
            select(DataField.id)
            .join(DataTable, DataTable.id == DataField.table_id)
            .where(DataTable.base_id == base.id)
        ),
    )
    await db.execute(delete(DataBase).where(DataBase.id == base.id))
    change.event(
        EventDraft(
            "base.deleted",
            aggregate_id=base.id,
            workspace_id=base.workspace_id,
            base_id=base.id,
            payload={"base_id": base.id},
        )
    )
    change.audit(
        "base.deleted",
        resource_type="base",
        resource_id=base.id,
        workspace_id=base.workspace_id,
        details={"name": base.name},
    )
    return await change.commit(status_code=204)
