"""One expression index per field that filters and sorts benefit from, kept in step with fields.

Records keep their values in one JSON column, so a filter or sort on a field would otherwise
extract that field from every record of the table. For the types whose comparisons need no case
folding (numbers, single selects, dates, date-times) each field gets an index on
``(table_id, <its value>, autonumber)``: equality and range filters become index lookups, and a
sort on the field (whose ties fall back to creation order, see ``query.py``) walks the index in
order, forwards or backwards, and stops after one page.

A database matches an expression index only against the *same* expression, with the JSON path
as a literal (a bound parameter does not match), so the query compiler takes its expressions
from ``value_expr`` here, never builds its own for these types. Field ids are
``fld`` + base62 (checked by ``looks_like``), so quoting them into SQL is safe.

Empty cells are NULL in the index. SQLite orders NULLs first ascending and last descending, which
is the API's order; on PostgreSQL the index is built ``NULLS FIRST`` so that the same holds when
it is walked either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from sqlalchemy import ColumnElement, Float, String, literal_column, text
from sqlalchemy.ext.asyncio import AsyncSession

from ..fieldtypes import FieldType
from ..ids import looks_like

Dialect = Literal["sqlite", "postgresql"]
INDEXED_TYPES: frozenset[FieldType] = frozenset({"number", "select", "date", "datetime"})
INDEX_PREFIX = "ix_rec_"


def index_name(field_id: str) -> str:
    return f"{INDEX_PREFIX}{field_id}"


def _sql(dialect: Dialect, field_id: str, kind: FieldType, *, table: str | None) -> str:
    if not looks_like(field_id, "fld"):
        raise ValueError(f"not a field id: {field_id!r}")
    column = f"{table}.fields" if table else "fields"
    if dialect == "sqlite":
        return f"json_extract({column}, '$.\"{field_id}\"')"
    if kind == "number":
        # Guarded cast: PostgreSQL evaluates an index expression on every row version it may
        # still have to serve, including the old text of a field being converted to a number
        # in this very transaction, and a bare cast of that text would fail the whole change.
        return (
            f"(CASE WHEN jsonb_typeof({column} -> '{field_id}') = 'number' "
            f"THEN CAST(({column} ->> '{field_id}') AS DOUBLE PRECISION) END)"
        )
    return f"(({column} ->> '{field_id}') COLLATE \"C\")"


def value_expr(dialect: Dialect, field_id: str, kind: FieldType) -> ColumnElement[Any]:
    """The field's value as the index holds it: a number for ``number``, else text."""
    type_ = Float() if kind == "number" else String()
    return literal_column(_sql(dialect, field_id, kind, table="records"), type_)


async def create_index(
    db: AsyncSession, dialect: Dialect, field_id: str, kind: FieldType, *, analyze: bool = False
) -> None:
    """Index a field's values, if its type benefits.

    ``analyze=True`` (for a field whose existing values were just converted) also refreshes
    PostgreSQL's statistics, which know nothing of a new expression until the next ANALYZE:
    without them the planner misjudges how many records match and may sort instead of walking
    the index.
    """
    if kind not in INDEXED_TYPES:
        return
    expression = _sql(dialect, field_id, kind, table=None)
    nulls = " NULLS FIRST" if dialect == "postgresql" else ""
    await db.execute(
        text(
            f'CREATE INDEX IF NOT EXISTS "{index_name(field_id)}" '
            f"ON records (table_id, {expression}{nulls}, autonumber)"
        )
    )
    if analyze and dialect == "postgresql":
        await db.execute(text("ANALYZE records"))


async def drop_indexes(db: AsyncSession, field_ids: Iterable[str]) -> None:
    """Drop the indexes of fields that are gone or change type (no-op for unindexed ones)."""
    for field_id in field_ids:
        if not looks_like(field_id, "fld"):
            raise ValueError(f"not a field id: {field_id!r}")
        await db.execute(text(f'DROP INDEX IF EXISTS "{index_name(field_id)}"'))
