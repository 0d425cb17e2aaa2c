"""Field service (contract §5): add, rename, retype and remove a table's fields."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from ..changes import Change, Write
from ..clock import utcnow
from ..data.fields import (
    check_name_free,
    checked_options,
    convert_records,
    drop_values,
    field_out,
    strip_field,
    views_of,
)
from ..data.schema import TableSchema, require_table
from ..db.models import DataField
from ..deps import DB, CurrentUser, Services
from ..errors import NotFound, ValidationFailed, error_responses, missing_as
from ..events import EventDraft, position
from ..fieldtypes import COMPUTED_TYPES
from ..ids import looks_like, new_id
from ..permissions import Permission
from ..schemas.common import DEFAULT_PER_PAGE, PositionedPageMeta
from ..schemas.tables import FieldIn, FieldList, FieldOut, FieldUpdate
from .common import BODY, SCOPED, PageNumber, PerPage
from .views import view_event, view_out

router = APIRouter(prefix="/fields", tags=["field"], responses=error_responses(401, 422, 429, 500))

_CHOICE_TYPES = frozenset({"select", "multiselect"})


def field_event(change: Change, kind: str, schema: TableSchema, f: DataField) -> None:
    table = schema.table
    change.event(
        EventDraft(
            f"field.{kind}",
            aggregate_id=f.id,
            workspace_id=table.workspace_id,
            base_id=table.base_id,
            table_id=table.id,
            payload={"field_id": f.id}
            if kind == "deleted"
            else {"field": field_out(f).model_dump(mode="json")},
        )
    )


async def _require_field(
    db: AsyncSession, user_id: str, field_id: str, permission: Permission, *, lock: bool = False
) -> tuple[TableSchema, DataField]:
    """The field and its table, if the caller's role allows ``permission``."""
    table_id = (
        await db.scalar(select(DataField.table_id).where(DataField.id == field_id))
        if looks_like(field_id, "fld")
        else None
    )
    if table_id is None:
        raise NotFound("No such field.")
    with missing_as("field"):
        schema = await require_table(db, user_id, table_id, permission, lock=lock)
    found = schema.by_id.get(field_id)
    if found is None:  # removed between the two reads
        raise NotFound("No such field.")
    return schema, found


@router.get("", response_model=FieldList, responses=SCOPED)
async def list_fields(
    table_id: str,
    caller: CurrentUser,
    db: DB,
    page: PageNumber = 1,
    per_page: PerPage = DEFAULT_PER_PAGE,
) -> FieldList:
    """The table's fields in display order."""
    event_position = await position(db)
    schema = await require_table(db, caller.id, table_id, "table:read")
    start = (page - 1) * per_page
    return FieldList(
        data=[field_out(f) for f in schema.fields[start : start + per_page]],
        pagination=PositionedPageMeta.of(
            page=page, per_page=per_page, total=len(schema.fields), event_position=event_position
        ),
    )


@router.post("", status_code=201, response_model=FieldOut, responses={**SCOPED, **BODY})
async def create_field(body: FieldIn, change: Write, services: Services) -> Response:
    """Add a field at the end of the table (owners and admins).

    Raises ``ValidationFailed`` for a taken name, bad options, or a table that already has
    ``max_fields_per_table`` fields.
    """
    db = change.db
    schema = await require_table(db, change.caller.id, body.table_id, "field:write", lock=True)
    cap = services.settings.max_fields_per_table
    if len(schema.fields) >= cap:
        raise ValidationFailed.field("table_id", f"the table has {cap} fields, the most allowed")
    check_name_free(schema.fields, body.name)
    if body.required and body.type in COMPUTED_TYPES:
        raise ValidationFailed.field("required", "computed fields cannot be required")
    options = await checked_options(db, schema.table, body.type, body.options)
    last = await db.scalar(
        select(func.max(DataField.position)).where(DataField.table_id == schema.table.id)
    )
    now = utcnow()
    f = DataField(
        id=new_id("fld"),
        table_id=schema.table.id,
        name=body.name,
        type=body.type,
        is_primary=False,
        required=body.required,
        position=(last if last is not None else -1) + 1,
        options=options,
        created_at=now,
        updated_at=now,
    )
    db.add(f)
    await change.indexes.create(f.id, body.type, schema.table.id)
    schema.table.updated_at = now
    field_event(change, "created", schema, f)
    change.audit(
        "field.created",
        resource_type="field",
        resource_id=f.id,
        workspace_id=schema.table.workspace_id,
        details={"type": body.type},
    )
    return await change.commit(field_out(f), status_code=201)


@router.get("/{field_id}", response_model=FieldOut, responses=SCOPED)
async def get_field(field_id: str, caller: CurrentUser, db: DB) -> FieldOut:
    """One field."""
    _, f = await _require_field(db, caller.id, field_id, "table:read")
    return field_out(f)


@router.put("/{field_id}", response_model=FieldOut, responses={**SCOPED, **BODY})
async def update_field(field_id: str, body: FieldUpdate, change: Write) -> Response:
    """Rename, retype, change options or ``required``; keys left out keep their value.

    A rename needs no record rewrite (records key values by field id). A new type or new options
    convert every stored value, or nothing: ``ValidationFailed`` lists the records that cannot
    convert. Computed fields cannot be made required.
    """
    db = change.db
    schema, f = await _require_field(db, change.caller.id, field_id, "field:write", lock=True)
    updates = body.model_dump(exclude_unset=True)
    if "name" in updates:
        check_name_free(schema.fields, updates["name"], keep=f.id)
        f.name = updates["name"]
    new_type = updates.get("type", schema.type_of(f))
    required = updates.get("required", f.required)
    if required and new_type in COMPUTED_TYPES:
        # Also when a required field becomes computed: say "required": false with the new type.
        raise ValidationFailed.field("required", "computed fields cannot be required")
    if "type" in updates or "options" in updates:
        if "options" in updates:
            requested = updates["options"]
        elif new_type == f.type or {new_type, f.type} <= _CHOICE_TYPES:
            # select <-> multiselect keeps its choices, used or not, with their colours.
            requested = f.options
        else:
            requested = None
        options = await checked_options(db, schema.table, new_type, requested)
        if new_type != f.type:
            # Before the values change: an index on numbers cannot hold the text they become.
            await change.indexes.drop([f.id])
        if new_type != f.type or options != f.options:
            options = await convert_records(db, schema, f, new_type, options)
        if new_type != f.type:
            await change.indexes.create(f.id, new_type, schema.table.id, analyze=True)
        f.type, f.options = new_type, options
    f.required = required
    f.updated_at = schema.table.updated_at = utcnow()
    field_event(change, "updated", schema, f)
    change.audit(
        "field.updated",
        resource_type="field",
        resource_id=f.id,
        workspace_id=schema.table.workspace_id,
        details={"fields": sorted(updates)},
    )
    return await change.commit(field_out(f))


@router.delete("/{field_id}", status_code=204, responses=SCOPED)
async def delete_field(field_id: str, change: Write) -> Response:
    """Remove a field, its values from every record, and its mentions from every view.

    Raises ``ValidationFailed`` for the primary field (choose another primary first).
    """
    db = change.db
    schema, f = await _require_field(db, change.caller.id, field_id, "field:write", lock=True)
    if f.is_primary:
        raise ValidationFailed.field(
            "field_id", "the primary field cannot be deleted; make another field primary first"
        )
    await change.indexes.drop([f.id])
    await drop_values(db, schema.table.id, f.id)
    now = utcnow()
    for view in await views_of(db, schema.table.id):
        stripped = strip_field(view.configuration, f.id)
        if stripped != view.configuration:
            view.configuration, view.updated_at = stripped, now
            view_event(change, "updated", schema.table, view, view_out(view))
    await db.delete(f)
    schema.table.updated_at = now
    field_event(change, "deleted", schema, f)
    change.audit(
        "field.deleted",
        resource_type="field",
        resource_id=f.id,
        workspace_id=schema.table.workspace_id,
        details={"name": f.name},
    )
    return await change.commit(status_code=204)
