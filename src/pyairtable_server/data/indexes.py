"""One expression index per field that filters and sorts benefit from, kept in step with fields.

Records keep their values in one JSON column, so a filter or sort on a field would otherwise
extract that field from every record of the table. For the types whose comparisons need no case
folding (numbers, single selects, dates, date-times) each field gets an index on
``(table_id, <its value>, autonumber)``: equality and range filters become index lookups, and a
sort on the field (whose ties fall back to creation order, see ``query.py``) walks the index in
order, forwards or backwards, and stops after one page.

Every tenant's records share one table, so each index is *partial*: ``WHERE table_id = '<its
table>'``. It holds only its own table's rows, and a write to another table pays one comparison
per such index instead of an index update, so one tenant's many fields do not slow another's
writes. (``table_id`` stays the first column: it costs little, and keeps the planners' choices
those of a full index, e.g. walking a sorted field's index rather than sorting an equality's
matches.) (The number of fields per table is capped too: ``Settings.max_fields_per_table``.) A
query matches a partial index only when its own condition names the same table as a literal,
so queries scope themselves with ``in_table`` from here.

On PostgreSQL the indexes are built and dropped ``CONCURRENTLY``, after the write that made or
removed the field has committed, each statement on its own outside any transaction: a plain
``CREATE INDEX`` would block every tenant's writes to ``records`` while it reads the table, and a
plain ``DROP INDEX`` every read and write until its transaction ends. Until then a new field is
simply filtered without its index. SQLite has one writer anyway; there the DDL runs in the
write's transaction, so the field and its index appear together.

A database matches an expression index only against the *same* expression, with the JSON path
as a literal (a bound parameter does not match), so the query compiler takes its expressions
from ``value_expr`` here, never builds its own for these types. Field ids are
``fld`` + base62 and table ids ``tbl`` + base62 (checked by ``looks_like``), so quoting them into
SQL is safe.

Empty cells are NULL in the index. SQLite orders NULLs first ascending and last descending, which
is the API's order; on PostgreSQL the index is built ``NULLS FIRST`` so that the same holds when
it is walked either way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Literal, cast

from sqlalchemy import ColumnElement, Float, String, literal_column, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ..db.models import DataField, DataRecord
from ..errors import loggable
from ..fieldtypes import FieldType
from ..ids import Prefix, looks_like

logger = logging.getLogger("pyairtable_server")

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


def in_table(table_id: str) -> ColumnElement[bool]:
    """``records.table_id = '<table_id>'`` with the id as a literal, so that the planner can
    match the table's partial indexes (a bound parameter would not prove their predicate).

    A real comparison whose right side is the literal, not one Boolean-typed literal column:
    SQLAlchemy renders a bare Boolean expression in WHERE as ``<expr> = 1`` on SQLite (no
    native booleans), and ``(table_id = 'tbl…') = 1`` matches no index, so every list scanned
    the whole ``records`` table and sorted it (3 to 8 times the CPU on 100,000 records).
    Raises ``ValueError`` for a malformed table id.
    """
    return DataRecord.table_id == literal_column(f"'{_checked(table_id, 'tbl')}'", String())


def _checked(value: str, prefix: Prefix) -> str:
    if not looks_like(value, prefix):
        raise ValueError(f"not a {prefix} id: {value!r}")
    return value


def _create_sql(dialect: Dialect, field_id: str, kind: FieldType, table_id: str) -> str:
    expression = _sql(dialect, field_id, kind, table=None)
    nulls = " NULLS FIRST" if dialect == "postgresql" else ""
    concurrently = " CONCURRENTLY" if dialect == "postgresql" else ""
    return (
        f'CREATE INDEX{concurrently} IF NOT EXISTS "{index_name(field_id)}" '
        f"ON records (table_id, {expression}{nulls}, autonumber) "
        f"WHERE table_id = '{_checked(table_id, 'tbl')}'"
    )


def _drop_sql(dialect: Dialect, field_id: str) -> str:
    concurrently = " CONCURRENTLY" if dialect == "postgresql" else ""
    return f'DROP INDEX{concurrently} IF EXISTS "{index_name(_checked(field_id, "fld"))}"'


class IndexChanges:
    """The index DDL of one write, in order: run now on SQLite (inside the write's transaction),
    after the commit on PostgreSQL (``run_after_commit``, concurrently, one statement at a time).
    """

    def __init__(self, db: AsyncSession, dialect: Dialect) -> None:
        self.db = db
        self.dialect = dialect
        self._pending: list[str] = []

    async def create(
        self, field_id: str, kind: FieldType, table_id: str, *, analyze: bool = False
    ) -> None:
        """Index a field's values, if its type benefits.

        ``analyze=True`` (for a field whose existing values were just converted) also refreshes
        PostgreSQL's statistics, which know nothing of a new expression until the next ANALYZE:
        without them the planner misjudges how many records match and may sort instead of
        walking the index.
        """
        if kind not in INDEXED_TYPES:
            return
        await self._run(_create_sql(self.dialect, field_id, kind, table_id))
        if analyze and self.dialect == "postgresql":
            await self._run("ANALYZE records")

    async def drop(self, field_ids: Iterable[str]) -> None:
        """Drop the indexes of fields that are gone or change type (no-op for unindexed ones)."""
        for field_id in field_ids:
            await self._run(_drop_sql(self.dialect, field_id))

    async def _run(self, statement: str) -> None:
        if self.dialect == "sqlite":
            await self.db.execute(text(statement))
        else:
            self._pending.append(statement)

    async def run_after_commit(self, engine: AsyncEngine) -> None:
        """Run the staged PostgreSQL DDL (see ``run_concurrently``)."""
        pending, self._pending = self._pending, []
        await run_concurrently(engine, pending)


async def run_concurrently(engine: AsyncEngine, statements: Iterable[str]) -> None:
    """Run PostgreSQL index DDL, each statement in autocommit (``CONCURRENTLY`` may not run in a
    transaction). A failed build is logged and its leftover (an INVALID index, which ``IF NOT
    EXISTS`` would keep forever) dropped; queries stay correct without it, and ``reconcile``
    builds it again later.
    """
    for statement in statements:
        try:
            await _autocommit(engine, statement)
        except (DBAPIError, OSError) as exc:
            logger.error("index change failed: %s", loggable(exc))
            if statement.startswith("CREATE"):
                name = statement.split('"')[1]
                try:
                    await _autocommit(engine, f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')
                except (DBAPIError, OSError) as again:
                    logger.error("dropping a failed index build failed: %s", loggable(again))


async def _autocommit(engine: AsyncEngine, statement: str) -> None:
    async with engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await auto.execute(text(statement))


_PG_FIELD_INDEXES = text(
    "SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indisvalid "
    "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
    "WHERE c.relname LIKE 'ix\\_rec\\_fld%'"
)


async def reconcile(engine: AsyncEngine, *, dialect: Dialect) -> tuple[int, int]:
    """Make PostgreSQL's per-field indexes match the fields; return (built, dropped).

    After commit, a schema change's index DDL runs on its own (``IndexChanges``): a crash in
    between leaves a field without its index, and two changes of one field racing may leave a
    stray or an index of the field's old type. This builds what is missing, rebuilds what is
    invalid or of another type or table, and drops indexes whose field is gone or no longer
    indexed. SQLite changes indexes in the schema change's own transaction: nothing to do.
    """
    if dialect != "postgresql":
        return 0, 0
    async with engine.connect() as conn:
        rows = await conn.execute(_PG_FIELD_INDEXES)
        found = {name: (sql, bool(valid)) for name, sql, valid in rows}
        wanted = {
            index_name(field_id): (field_id, table_id, cast(FieldType, kind))
            for field_id, table_id, kind in await conn.execute(
                select(DataField.id, DataField.table_id, DataField.type).where(
                    DataField.type.in_(sorted(INDEXED_TYPES))
                )
            )
        }
    statements: list[str] = []
    built = dropped = 0
    for name, (field_id, table_id, kind) in wanted.items():
        current = found.get(name)
        if current is not None and _matches(current, kind, table_id):
            continue
        if current is not None:
            statements.append(_drop_sql(dialect, field_id))
            dropped += 1
        statements.append(_create_sql(dialect, field_id, kind, table_id))
        built += 1
    for name in found.keys() - wanted.keys():
        statements.append(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')
        dropped += 1
    await run_concurrently(engine, statements)
    return built, dropped


def _matches(current: tuple[str, bool], kind: FieldType, table_id: str) -> bool:
    """Whether an index (its definition, its validity) is the one a field of ``kind`` in
    ``table_id`` gets: valid, partial on that table, numeric exactly when the field is."""
    sql, valid = current
    return valid and f"'{table_id}'" in sql and ("jsonb_typeof" in sql) == (kind == "number")
