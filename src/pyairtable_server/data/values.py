"""Record values between the wire (keyed by field name or id) and storage (keyed by field id)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..clock import rfc3339
from ..db.models import DataField, DataRecord
from ..errors import ValidationFailed
from ..fieldtypes import COMPUTED_TYPES, FieldValueError, validate_value
from ..schemas.records import RecordOut
from .schema import TableSchema


@dataclass(slots=True)
class PlainRecord:
    """A record's columns without an ORM object: one being inserted, or one loaded for a write
    (a mapped object would cost the session's unit of work a state, and a flush to save it)."""

    id: str
    table_id: str
    autonumber: int
    fields: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    updated_by: str | None

    def row(self) -> dict[str, Any]:
        """The columns, for an ``INSERT`` or ``UPDATE``."""
        return {name: getattr(self, name) for name in self.__slots__}


def wire_time(value: str | datetime) -> str:
    """A stored timestamp as the wire's RFC 3339 text, exactly as ``rfc3339`` writes it.

    SQLite hands a column back as the text SQLAlchemy stored (naive UTC,
    ``2026-01-02 03:04:05.678901``), PostgreSQL as a naive datetime; parsing the text into a
    datetime only to print it again was a measurable share of a listing's CPU, so the usual
    shape is rearranged as text. Raises ``ValueError`` for text that is not a timestamp.
    """
    if isinstance(value, str):
        if len(value) == 26 and value[10] == " " and value[19] == ".":
            if value.endswith(".000000"):  # isoformat leaves out a zero fraction
                return f"{value[:10]}T{value[11:19]}Z"
            return f"{value[:10]}T{value[11:]}Z"
        value = datetime.fromisoformat(value)
    return rfc3339(value if value.tzinfo is not None else value.replace(tzinfo=UTC))


def computed_value(f: DataField, record: Any) -> Any:
    """A computed field's value, from a record (or a row with its columns)."""
    if f.type == "created_time":
        return rfc3339(record.created_at)
    if f.type == "last_modified_time":
        return rfc3339(record.updated_at)
    return record.autonumber


class Projection:
    """Which fields a record answer shows, in order, read off the ORM rows once per request.

    Reading a mapped attribute goes through SQLAlchemy's descriptor machinery; doing it for every
    field of every record of a page was a measurable share of a listing, so the plan is kept as
    plain tuples.
    """

    def __init__(self, schema: TableSchema, only: Iterable[DataField] | None = None) -> None:
        self._plan = [
            (f.id, f.name, f if f.type in COMPUTED_TYPES else None)
            for f in (only if only is not None else schema.fields)
        ]

    def fields_of(self, record: DataRecord | PlainRecord | Row[Any]) -> dict[str, Any]:
        """The record's values by field name; empty cells are left out, as Airtable does."""
        out: dict[str, Any] = {}
        stored = record.fields
        for field_id, name, computed in self._plan:
            if computed is not None:
                out[name] = computed_value(computed, record)
            elif field_id in stored:
                out[name] = stored[field_id]
        return out

    def wire(self, row: Row[Any]) -> dict[str, Any]:
        """A listed record as the JSON ``RecordOut`` gives, from a row of ``WIRE_COLUMNS``
        (timestamps as stored: see ``wire_time``), without building the model: a page is
        encoded in one go (``json_codec.encode``)."""
        stored = row.fields
        fields: dict[str, Any] = {}
        for field_id, name, computed in self._plan:
            if computed is None:
                if field_id in stored:
                    fields[name] = stored[field_id]
            elif computed.type == "created_time":
                fields[name] = wire_time(row.created_at)
            elif computed.type == "last_modified_time":
                fields[name] = wire_time(row.updated_at)
            else:
                fields[name] = row.autonumber
        return {
            "id": row.id,
            "table_id": row.table_id,
            "fields": fields,
            "version": row.version,
            "created_at": wire_time(row.created_at),
            "updated_at": wire_time(row.updated_at),
            "created_by": row.created_by,
            "updated_by": row.updated_by,
        }

    def out(self, record: DataRecord | PlainRecord | Row[Any]) -> RecordOut:
        """The answer for a record, from its ORM object or a row of its columns."""
        return RecordOut(
            id=record.id,
            table_id=record.table_id,
            fields=self.fields_of(record),
            version=record.version,
            created_at=record.created_at,
            updated_at=record.updated_at,
            created_by=record.created_by,
            updated_by=record.updated_by,
        )


def wire_fields(
    schema: TableSchema, record: DataRecord, only: Iterable[DataField] | None = None
) -> dict[str, Any]:
    """The record's values by field name, in ``only``'s order (default: the table's order)."""
    return Projection(schema, only).fields_of(record)


def record_out(
    schema: TableSchema,
    record: DataRecord | PlainRecord,
    only: Iterable[DataField] | None = None,
) -> RecordOut:
    return Projection(schema, only).out(record)


@dataclass
class Validated:
    """The stored values a write produces, and field options it grew (typecast choices)."""

    values: dict[str, Any]
    options: dict[str, dict[str, Any]] = field(default_factory=dict)


def validate_write(
    schema: TableSchema,
    incoming: Mapping[str, Any],
    *,
    base: Mapping[str, Any] | None,
    typecast: bool,
    prefix: str = "",
) -> Validated:
    """Apply ``incoming`` (names or ids → values) on top of ``base`` (stored values, or None to
    start empty) and check every value and every required field.

    Raises ``ValidationFailed`` whose ``details.fields`` names each bad field (prefixed by
    ``prefix``, e.g. ``records.3.``) with its reason. Options grown by typecast stay local to the
    write until the caller saves them.
    """
    values = dict(base or {})
    problems: dict[str, str] = {}
    grown: dict[str, dict[str, Any]] = {}
    for key, value in incoming.items():
        f = schema.find(key)
        if f is None:
            problems[f"{prefix}{key[:100]}"] = "unknown field"
            continue
        if f.type in COMPUTED_TYPES:
            problems[f"{prefix}{f.name}"] = f"{f.type} is computed and read-only"
            continue
        options = grown.get(f.id, f.options)
        try:
            stored, new_options = validate_value(
                schema.type_of(f), options, value, typecast=typecast
            )
        except FieldValueError as exc:
            problems[f"{prefix}{f.name}"] = str(exc)
            continue
        if new_options is not None:
            grown[f.id] = new_options
        if stored is None:
            values.pop(f.id, None)
        else:
            values[f.id] = stored
    for f in schema.fields:
        if f.required and f.type not in COMPUTED_TYPES and f.id not in values:
            problems.setdefault(f"{prefix}{f.name}", "is required")
    if problems:
        names = ", ".join(list(problems)[:5])
        raise ValidationFailed(f"Invalid field values: {names}.", details={"fields": problems})
    return Validated(values=values, options=grown)


def changes_between(
    schema: TableSchema, old: Mapping[str, Any], new: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """``{field name: {old, new}}`` for every stored value that differs (contract §8)."""
    return {
        f.name: {"old": old.get(f.id), "new": new.get(f.id)}
        for f in schema.fields
        if old.get(f.id) != new.get(f.id)
    }


async def check_links(
    db: AsyncSession, schema: TableSchema, writes: Iterable[Mapping[str, Any]], prefix: str = ""
) -> None:
    """Refuse links to records that do not exist in the linked table.

    Raises ``ValidationFailed`` naming the reference field and the missing ids.
    """
    wanted: dict[str, tuple[DataField, set[str]]] = {}
    for values in writes:
        for f in schema.fields:
            if f.type == "reference" and f.id in values:
                wanted.setdefault(f.id, (f, set()))[1].update(values[f.id])
    problems: dict[str, str] = {}
    for f, ids in wanted.values():
        target = f.options.get("referenced_table_id")
        found = set(
            await db.scalars(
                select(DataRecord.id).where(DataRecord.table_id == target, DataRecord.id.in_(ids))
            )
        )
        missing = sorted(ids - found)
        if missing:
            problems[f"{prefix}{f.name}"] = f"no such records in the linked table: {missing[:10]}"
    if problems:
        raise ValidationFailed("Links to records that do not exist.", details={"fields": problems})
