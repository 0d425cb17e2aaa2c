"""Table service (contract §5): tables of a base, each created with its fields."""

from __future__ import annotations

from collections import defaultdict
from typing import cast

from fastapi import APIRouter
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from ..changes import Change, Write
from ..clock import utcnow
from ..data.fields import check_name_free, checked_options, field_out
from ..data.schema import TableSchema, require_base, require_table
from ..db.models import DataField, DataTable
from ..db.paging import fetch_page
from ..deps import DB, CurrentUser, Services
from ..errors import ValidationFailed, error_responses
from ..events import EventDraft, position
from ..fieldtypes import COMPUTED_TYPES, FieldType
from ..ids import new_id
from ..schemas.common import DEFAULT_PER_PAGE, PositionedPageMeta
from ..schemas.tables import FieldCreate, TableIn, TableList, TableOut, TableUpdate
from .common import BODY, SCOPED, PageNumber, PerPage

router = APIRouter(prefix="/tables", tags=["table"], responses=error_responses(401, 422, 429, 500))

DEFAULT_FIELDS = (FieldCreate(name="Name", type="text"),)


def table_out(table: DataTable, fields: list[DataField]) -> TableOut:
    return TableOut(
        id=table.id,
        base_id=table.base_id,
        name=table.name,
        description=table.description,
        primary_field_id=table.primary_field_id,
        record_count=table.record_count,
        field_count=len(fields),
        fields=[field_out(f) for f in fields],
        created_at=table.created_at,
        updated_at=table.updated_at,
    )


def schema_out(schema: TableSchema) -> TableOut:
    return table_out(schema.table, schema.fields)


def table_event(change: Change, kind: str, table: DataTable, payload: dict[str, object]) -> None:
    """Stage a ``table.*`` event."""
    change.event(
        EventDraft(
            f"table.{kind}",
            aggregate_id=table.id,
            workspace_id=table.workspace_id,
            base_id=table.base_id,
            table_id=table.id,
            payload=payload,
        )
    )


async def _fields_by_table(db: AsyncSession, table_ids: list[str]) -> dict[str, list[DataField]]:
    grouped: dict[str, list[DataField]] = defaultdict(list)
    rows = await db.scalars(
        select(DataField)
        .where(DataField.table_id.in_(table_ids))
        .order_by(DataField.position, DataField.created_at, DataField.id)
    )
    for f in rows:
        grouped[f.table_id].append(f)
    return grouped


@router.get("", response_model=TableList, responses=SCOPED)
async def list_tables(
    base_id: str,
    caller: CurrentUser,
    db: DB,
    page: PageNumber = 1,
    per_page: PerPage = DEFAULT_PER_PAGE,
) -> TableList:
    """The base's tables with their fields, oldest first."""
    await require_base(db, caller.id, base_id, "table:read")
    event_position = await position(db)
    rows, total = await fetch_page(
        db,
        select(DataTable)
        .where(DataTable.base_id == base_id)
        .order_by(DataTable.created_at, DataTable.id),
        page=page,
        per_page=per_page,
    )
    tables = [table for (table,) in rows]
    fields = await _fields_by_table(db, [t.id for t in tables])
    return TableList(
        data=[table_out(t, fields[t.id]) for t in tables],
        pagination=PositionedPageMeta.of(
            page=page, per_page=per_page, total=total, event_position=event_position
        ),
    )


@router.post("", status_code=201, response_model=TableOut, responses={**SCOPED, **BODY})
async def create_table(body: TableIn, change: Write, services: Services) -> Response:
    """Create a table with ``fields`` (default: a primary text field ``Name``); the first field is
    the primary one. Raises ``ValidationFailed`` for duplicate names, bad options, or more than
    ``max_fields_per_table`` fields."""
    db = change.db
    base, _ = await require_base(db, change.caller.id, body.base_id, "table:write")
    cap = services.settings.max_fields_per_table
    if body.fields is not None and len(body.fields) > cap:
        raise ValidationFailed.field("fields", f"more than {cap} fields, the most allowed")
    now = utcnow()
    table = DataTable(
        id=new_id("tbl"),
        base_id=base.id,
        workspace_id=base.workspace_id,
        name=body.name,
        description=body.description,
        next_autonumber=1,
        record_count=0,
        created_at=now,
        updated_at=now,
    )
    fields: list[DataField] = []
    for index, spec in enumerate(body.fields or DEFAULT_FIELDS):
        try:
            check_name_free(fields, spec.name)
            if spec.required and spec.type in COMPUTED_TYPES:
                raise ValidationFailed.field("required", "computed fields cannot be required")
            options = await checked_options(db, table, spec.type, spec.options)
        except ValidationFailed as exc:
            raise ValidationFailed(
                exc.message,
                details={"fields": {f"fields.{index}.{k}": v for k, v in _problems(exc).items()}},
            ) from exc
        fields.append(
            DataField(
                id=new_id("fld"),
                table_id=table.id,
                name=spec.name,
                type=spec.type,
                is_primary=index == 0,
                required=spec.required,
                position=index,
                options=options,
                created_at=now,
                updated_at=now,
            )
        )
    table.primary_field_id = fields[0].id
    db.add(table)
    await db.flush()
    db.add_all(fields)
    for f in fields:
        await change.indexes.create(f.id, cast(FieldType, f.type), table.id)
    out = table_out(table, fields)
    table_event(change, "created", table, {"table": out.model_dump(mode="json")})
    change.audit(
        "table.created", resource_type="table", resource_id=table.id, workspace_id=base.workspace_id
    )
    return await change.commit(out, status_code=201)


def _problems(exc: ValidationFailed) -> dict[str, str]:
    fields = exc.details.get("fields")
    return dict(fields) if isinstance(fields, dict) else {"": exc.message}


@router.get("/{table_id}", response_model=TableOut, responses=SCOPED)
async def get_table(table_id: str, caller: CurrentUser, db: DB) -> TableOut:
    """One table with its fields."""
    return schema_out(await require_table(db, caller.id, table_id, "table:read"))


@router.put("/{table_id}", response_model=TableOut, responses={**SCOPED, **BODY})
async def update_table(table_id: str, body: TableUpdate, change: Write) -> Response:
    """Rename, re-describe, or choose another primary field; keys left out keep their value."""
    db = change.db
    schema = await require_table(db, change.caller.id, table_id, "table:write", lock=True)
    table = schema.table
    updates = body.model_dump(exclude_unset=True)
    if "primary_field_id" in updates:
        chosen = schema.by_id.get(updates["primary_field_id"])
        if chosen is None:
            raise ValidationFailed.field("primary_field_id", "not a field of this table")
        for f in schema.fields:
            f.is_primary = f.id == chosen.id
    for key, value in updates.items():
        setattr(table, key, value)
    table.updated_at = utcnow()
    out = schema_out(schema)
    table_event(change, "updated", table, {"table": out.model_dump(mode="json")})
    change.audit(
        "table.updated",
        resource_type="table",
        resource_id=table.id,
        workspace_id=table.workspace_id,
        details={"fields": sorted(updates)},
    )
    return await change.commit(out)


@router.delete("/{table_id}", status_code=204, responses=SCOPED)
async def delete_table(table_id: str, change: Write) -> Response:
    """Delete a table with its fields, views and records (owners and admins)."""
    db = change.db
    schema = await require_table(db, change.caller.id, table_id, "table:write", lock=True)
    table = schema.table
    await change.indexes.drop([f.id for f in schema.fields])
    await db.execute(delete(DataTable).where(DataTable.id == table.id))
    table_event(change, "deleted", table, {"table_id": table.id})
    change.audit(
        "table.deleted",
        resource_type="table",
        resource_id=table.id,
        workspace_id=table.workspace_id,
        details={"name": table.name},
    )
    return await change.commit(status_code=204)
