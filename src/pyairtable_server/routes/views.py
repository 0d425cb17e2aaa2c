"""View service (contract §5): saved field selections, orders, sorts and filters of a table."""

from __future__ import annotations

from typing import Any, cast

from fastapi import APIRouter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from ..changes import Change, Write
from ..clock import utcnow
from ..data.query import Compiler
from ..data.schema import TableSchema, require_table
from ..db.models import DataTable, DataView
from ..deps import DB, CurrentUser
from ..errors import NotFound, error_responses, missing_as
from ..events import EventDraft, position
from ..ids import looks_like, new_id
from ..permissions import Permission
from ..schemas.common import DEFAULT_PER_PAGE, PositionedPageMeta
from ..schemas.views import (
    FilterCondition,
    FilterGroup,
    ViewConfiguration,
    ViewIn,
    ViewList,
    ViewOut,
    ViewType,
    ViewUpdate,
)
from .common import BODY, SCOPED, PageNumber, PerPage

router = APIRouter(prefix="/views", tags=["view"], responses=error_responses(401, 422, 429, 500))


def view_out(view: DataView) -> ViewOut:
    return ViewOut(
        id=view.id,
        table_id=view.table_id,
        name=view.name,
        type=cast(ViewType, view.type),
        order=view.position,
        configuration=view.configuration,
        created_at=view.created_at,
        updated_at=view.updated_at,
    )


def view_event(
    change: Change, kind: str, table: DataTable, view: DataView, out: ViewOut | None
) -> None:
    change.event(
        EventDraft(
            f"view.{kind}",
            aggregate_id=view.id,
            workspace_id=table.workspace_id,
            base_id=table.base_id,
            table_id=table.id,
            payload={"view": out.model_dump(mode="json")} if out else {"view_id": view.id},
        )
    )


def normalize_configuration(schema: TableSchema, config: ViewConfiguration) -> dict[str, Any]:
    """The configuration with every field named by id, its filters checked by compiling them.

    Raises ``ValidationFailed`` naming the unknown field or the bad condition.
    """
    out: dict[str, Any] = {}
    for key in ("visible_fields", "field_order"):
        refs = getattr(config, key)
        if refs is not None:
            ids = [schema.resolve(ref, where=f"configuration.{key}").id for ref in refs]
            out[key] = list(dict.fromkeys(ids))
    if config.sorts is not None:
        out["sorts"] = [
            {
                "field": schema.resolve(s.field, where="configuration.sorts").id,
                "direction": s.direction,
            }
            for s in config.sorts
        ]
    if config.filters is not None:
        Compiler(schema, "sqlite").where(config.filters)  # raises on a bad condition
        out["filters"] = _by_id(schema, config.filters)
    return out


def _by_id(schema: TableSchema, group: FilterGroup) -> dict[str, Any]:
    conditions: list[dict[str, Any]] = []
    for item in group.conditions:
        if isinstance(item, FilterCondition):
            field_id = schema.resolve(item.field, where="configuration.filters").id
            conditions.append({**item.model_dump(), "field": field_id})
        else:
            conditions.append(_by_id(schema, item))
    return {"conjunction": group.conjunction, "conditions": conditions}


async def require_view(
    db: AsyncSession, user_id: str, view_id: str, permission: Permission, *, lock: bool = False
) -> tuple[TableSchema, DataView]:
    """The view and its table, if the caller's role allows ``permission``."""
    view = await db.get(DataView, view_id) if looks_like(view_id, "viw") else None
    if view is None:
        raise NotFound("No such view.")
    with missing_as("view"):
        schema = await require_table(db, user_id, view.table_id, permission, lock=lock)
    return schema, view


@router.get("", response_model=ViewList, responses=SCOPED)
async def list_views(
    table_id: str,
    caller: CurrentUser,
    db: DB,
    page: PageNumber = 1,
    per_page: PerPage = DEFAULT_PER_PAGE,
) -> ViewList:
    """The table's views in order."""
    await require_table(db, caller.id, table_id, "table:read")
    event_position = await position(db)
    query = select(DataView).where(DataView.table_id == table_id)
    total = await db.scalar(select(func.count()).select_from(query.subquery())) or 0
    views = await db.scalars(
        query.order_by(DataView.position, DataView.id).limit(per_page).offset((page - 1) * per_page)
    )
    return ViewList(
        data=[view_out(v) for v in views],
        pagination=PositionedPageMeta.of(
            page=page, per_page=per_page, total=total, event_position=event_position
        ),
    )


@router.post("", status_code=201, response_model=ViewOut, responses={**SCOPED, **BODY})
async def create_view(body: ViewIn, change: Write) -> Response:
    """Create a view (owners and admins). Fields may be named by name or id; they are stored by
    id, so the view survives renames."""
    db = change.db
    schema = await require_table(db, change.caller.id, body.table_id, "view:write", lock=True)
    configuration = normalize_configuration(schema, body.configuration)
    last = await db.scalar(
        select(func.max(DataView.position)).where(DataView.table_id == schema.table.id)
    )
    now = utcnow()
    view = DataView(
        id=new_id("viw"),
        table_id=schema.table.id,
        name=body.name,
        type=body.type,
        position=(last if last is not None else -1) + 1,
        configuration=configuration,
        created_at=now,
        updated_at=now,
    )
    db.add(view)
    out = view_out(view)
    view_event(change, "created", schema.table, view, out)
    change.audit(
        "view.created",
        resource_type="view",
        resource_id=view.id,
        workspace_id=schema.table.workspace_id,
    )
    return await change.commit(out, status_code=201)


@router.get("/{view_id}", response_model=ViewOut, responses=SCOPED)
async def get_view(view_id: str, caller: CurrentUser, db: DB) -> ViewOut:
    """One view."""
    _, view = await require_view(db, caller.id, view_id, "table:read")
    return view_out(view)


@router.put("/{view_id}", response_model=ViewOut, responses={**SCOPED, **BODY})
async def update_view(view_id: str, body: ViewUpdate, change: Write) -> Response:
    """Rename, retype or reconfigure a view; ``configuration`` replaces the old one whole."""
    db = change.db
    schema, view = await require_view(db, change.caller.id, view_id, "view:write", lock=True)
    updates = body.model_dump(exclude_unset=True)
    if body.name is not None:
        view.name = body.name
    if body.type is not None:
        view.type = body.type
    if body.configuration is not None:
        view.configuration = normalize_configuration(schema, body.configuration)
    view.updated_at = utcnow()
    out = view_out(view)
    view_event(change, "updated", schema.table, view, out)
    change.audit(
        "view.updated",
        resource_type="view",
        resource_id=view.id,
        workspace_id=schema.table.workspace_id,
        details={"fields": sorted(updates)},
    )
    return await change.commit(out)


@router.delete("/{view_id}", status_code=204, responses=SCOPED)
async def delete_view(view_id: str, change: Write) -> Response:
    """Delete a view (owners and admins); records are untouched."""
    db = change.db
    schema, view = await require_view(db, change.caller.id, view_id, "view:write", lock=True)
    await db.delete(view)
    view_event(change, "deleted", schema.table, view, None)
    change.audit(
        "view.deleted",
        resource_type="view",
        resource_id=view.id,
        workspace_id=schema.table.workspace_id,
    )
    return await change.commit(status_code=204)
