"""Schema changes that touch records: new fields, type conversion, field removal."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.models import DataField, DataRecord, DataTable, DataView
from ..errors import ValidationFailed
from ..fieldtypes import (
    COMPUTED_TYPES,
    FieldType,
    FieldValueError,
    convert_value,
    normalize_options,
)
from ..schemas.tables import FieldOut
from .schema import TableSchema
from .values import computed_value

CONVERSION_BATCH = 1000
MAX_REPORTED_RECORDS = 100


def field_out(f: DataField) -> FieldOut:
    return FieldOut(
        id=f.id,
        table_id=f.table_id,
        name=f.name,
        type=cast(FieldType, f.type),
        is_primary=f.is_primary,
        required=f.required,
        order=f.position,
        options=f.options,
        created_at=f.created_at,
        updated_at=f.updated_at,
    )


def check_name_free(fields: Iterable[DataField], name: str, *, keep: str | None = None) -> None:
    """Raises ``ValidationFailed`` when another field of the table has ``name`` (any case)."""
    folded = name.casefold()
    for f in fields:
        if f.id != keep and f.name.casefold() == folded:
            raise ValidationFailed.field("name", f"a field named {f.name!r} already exists")


async def checked_options(
    db: AsyncSession, table: DataTable, kind: FieldType, options: dict[str, Any] | None
) -> dict[str, Any]:
    """Normalised options; a link must point at a table of the same base.

    Raises ``ValidationFailed`` naming ``options``.
    """
    try:
        normalized = normalize_options(kind, options)
    except FieldValueError as exc:
        raise ValidationFailed.field("options", str(exc)) from exc
    if kind == "reference":
        target = normalized["referenced_table_id"]
        base_id = await db.scalar(select(DataTable.base_id).where(DataTable.id == target))
        if base_id != table.base_id:
            raise ValidationFailed.field(
                "options", "referenced_table_id must name a table in the same base"
            )
    return normalized


async def convert_records(
    db: AsyncSession,
    schema: TableSchema,
    f: DataField,
    to_type: FieldType,
    to_options: dict[str, Any],
) -> dict[str, Any]:
    """Rewrite every record's value of ``f`` for its new type and options, all or nothing.

    Works through the table in batches so that a large table is never held in memory at once.
    Returns the options as grown by conversion (typecast may add select choices). Raises
    ``ValidationFailed`` listing (up to 100 of) the records whose values cannot convert.
    """
    from_type = schema.type_of(f)
    options = dict(to_options)
    failures: list[dict[str, str]] = []
    failed = 0
    updates: list[dict[str, Any]] = []
    after = 0
    while True:
        # Plain rows, not ORM objects: nothing accumulates in the session on a large table.
        batch = (
            await db.execute(
                select(
                    DataRecord.id,
                    DataRecord.autonumber,
                    DataRecord.fields,
                    DataRecord.created_at,
                    DataRecord.updated_at,
                )
                .where(DataRecord.table_id == schema.table.id, DataRecord.autonumber > after)
                .order_by(DataRecord.autonumber)
                .limit(CONVERSION_BATCH)
            )
        ).all()
        if not batch:
            break
        after = batch[-1].autonumber
        for record in batch:
            if from_type in COMPUTED_TYPES:
                value = computed_value(f, record)
            else:
                value = record.fields.get(f.id)
            if value is None and to_type not in COMPUTED_TYPES:
                continue
            try:
                new, grown = convert_value(from_type, to_type, options, value)
            except FieldValueError as exc:
                failed += 1
                if len(failures) < MAX_REPORTED_RECORDS:
                    failures.append({"id": record.id, "reason": str(exc)})
                continue
            if grown is not None:
                options = grown
            fields = dict(record.fields)
            if new is None:
                fields.pop(f.id, None)
            else:
                fields[f.id] = new
            # Compared as JSON: in Python True == 1, yet true and 1 are different stored values.
            if _json(fields) != _json(record.fields):
                updates.append({"id": record.id, "fields": fields})
    if failed:
        raise ValidationFailed(
            f"{failed} record(s) hold values that cannot become {to_type}.",
            details={"fields": {"type": f"{failed} record(s) cannot convert"}, "records": failures},
        )
    await _write_fields(db, updates)
    return options


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


async def _write_fields(db: AsyncSession, updates: Sequence[dict[str, Any]]) -> None:
    # An ORM bulk UPDATE by primary key: one executemany per batch.
    for start in range(0, len(updates), CONVERSION_BATCH):
        await db.execute(update(DataRecord), list(updates[start : start + CONVERSION_BATCH]))


async def drop_values(db: AsyncSession, table_id: str, field_id: str) -> None:
    """Remove a deleted field's values from every record of the table."""
    updates: list[dict[str, Any]] = []
    after = 0
    while True:
        rows = (
            await db.execute(
                select(DataRecord.id, DataRecord.autonumber, DataRecord.fields)
                .where(DataRecord.table_id == table_id, DataRecord.autonumber > after)
                .order_by(DataRecord.autonumber)
                .limit(CONVERSION_BATCH)
            )
        ).all()
        if not rows:
            break
        after = rows[-1].autonumber
        for rid, _, fields in rows:
            if field_id in fields:
                kept = {k: v for k, v in fields.items() if k != field_id}
                updates.append({"id": rid, "fields": kept})
    await _write_fields(db, updates)


def strip_field(configuration: dict[str, Any], field_id: str) -> dict[str, Any]:
    """A view configuration without any mention of ``field_id``."""
    out = dict(configuration)
    for key in ("visible_fields", "field_order"):
        if out.get(key) is not None:
            out[key] = [ref for ref in out[key] if ref != field_id]
    if out.get("sorts") is not None:
        out["sorts"] = [s for s in out["sorts"] if s.get("field") != field_id]
    if out.get("filters") is not None:
        out["filters"] = _strip_group(out["filters"], field_id)
    return out


def _strip_group(group: dict[str, Any], field_id: str) -> dict[str, Any]:
    kept = []
    for item in group.get("conditions", []):
        if "conditions" in item:
            kept.append(_strip_group(item, field_id))
        elif item.get("field") != field_id:
            kept.append(item)
    return {**group, "conditions": kept}


async def views_of(db: AsyncSession, table_id: str) -> list[DataView]:
    return list(
        await db.scalars(
            select(DataView)
            .where(DataView.table_id == table_id)
            .order_by(DataView.position, DataView.id)
        )
    )
