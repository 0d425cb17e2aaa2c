"""The driver under a session's transaction: the hot statements of a write run on it directly.

A single-record write is a handful of small indexed statements, and SQLAlchemy's execution of
each (compiled-cache lookup, execution context, result object, events, and on an async engine a
greenlet switch and an await for every DB-API call) cost several times what the database took to
run it. A ``Statement`` is a Core statement compiled once per dialect into its SQL text, the order
of its parameters and SQLAlchemy's own bind and result processors (so values are stored and read
back exactly as through the engine); ``Driver`` runs it on the connection the session's
transaction already holds:

- SQLite, inside a write transaction on an ``InlineStatements`` connection: the ``sqlite3``
  connection itself, synchronously, on the loop's thread (what ``InlineStatements`` does already,
  minus the layers above it). Outside one (a read): through aiosqlite, whose ``InlineStatements``
  applies the read budget.
- PostgreSQL (asyncpg): the asyncpg connection, whose statement cache prepares each text once per
  connection. The transaction SQLAlchemy begins lazily is begun first, as its adapter would.
- Anything else: SQLAlchemy's own execution of the Core statement (same results, no saving).

The statements join the session's transaction: they commit or roll back with it. Driver errors
are raised as SQLAlchemy's (``IntegrityError``, ``OperationalError``…, parameters hidden), as the
engine would raise them, so callers and the error handlers need not know which path ran.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import aiosqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql import Executable

from .engine import InlineStatements

Row = tuple[Any, ...]
Params = Mapping[str, Any]
Processor = Callable[[Any], Any]

#: Called with each statement's SQL text the driver runs itself (not those it hands to
#: SQLAlchemy, which its engine events see): for benchmarks that count statements.
on_statement: Callable[[str], None] | None = None


class _Compiled:
    """A statement's SQL for one dialect, with how to bind its parameters and read its rows."""

    __slots__ = ("_fixed", "_names", "_processed", "_results", "keys", "sql")

    def __init__(self, clause: Executable, dialect: Dialect, keys: Sequence[str] | None) -> None:
        compiled: Any = clause.compile(  # type: ignore[attr-defined]
            dialect=dialect, column_keys=list(keys) if keys is not None else None
        )
        self.sql: str = compiled.string
        processors = compiled._bind_processors
        binds = compiled.binds
        #: The parameters' names by position; the values the statement holds itself (literals
        #: such as ``id == 1``), fixed once; the positions whose values go through a processor.
        self._names: list[str] = list(compiled.positiontup or [])
        self._fixed: dict[str, Any] = {
            name: binds[name].effective_value for name in self._names if not binds[name].required
        }
        self._processed: list[tuple[int, Processor]] = [
            (index, processors[name])
            for index, name in enumerate(self._names)
            if name in processors
        ]
        self.keys: tuple[str, ...] = tuple(column[0] for column in compiled._result_columns)
        results = [
            column[3]._cached_result_processor(dialect, None) for column in compiled._result_columns
        ]
        self._results: list[Processor | None] | None = results if any(results) else None

    def args(self, params: Params) -> list[Any]:
        """The positional parameters, each through its bind processor (as SQLAlchemy does,
        ``None`` too). Raises ``KeyError`` for a parameter ``params`` lacks."""
        fixed = self._fixed
        if fixed:
            values = [fixed[name] if name in fixed else params[name] for name in self._names]
        else:
            values = [params[name] for name in self._names]
        for index, process in self._processed:
            values[index] = process(values[index])
        return values

    def row(self, raw: Sequence[Any]) -> Row:
        """A result row, each value through its result processor."""
        results = self._results
        if results is None:
            return tuple(raw)
        pairs = zip(raw, results, strict=True)
        return tuple([value if process is None else process(value) for value, process in pairs])


class Statement:
    """A Core statement to run on the driver. ``keys`` names the values an ``INSERT`` or an
    ``UPDATE`` without ``.values()`` is given (SQLAlchemy derives its columns from them), and
    each call must give every one of them: no column default is applied here."""

    __slots__ = ("_by_dialect", "_keys", "clause")

    def __init__(self, clause: Executable, *, keys: Sequence[str] | None = None) -> None:
        self.clause = clause
        self._keys = tuple(keys) if keys is not None else None
        self._by_dialect: dict[type[Dialect], _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        """The statement for ``dialect`` (compiled on first use; every engine of one dialect
        class here shares its settings, the JSON codec included)."""
        found = self._by_dialect.get(type(dialect))
        if found is None:
            found = self._by_dialect[type(dialect)] = _Compiled(self.clause, dialect, self._keys)
        return found

    def mapping(self, dialect: Dialect, row: Row) -> dict[str, Any]:
        """A row of this statement as a dict by result column key."""
        return dict(zip(self.compiled(dialect).keys, row, strict=True))


class Driver:
    """Runs ``Statement``s in one transaction of a session (see the module docstring).

    Valid until that transaction ends; get one with ``driver_of``. Every method raises
    SQLAlchemy's ``DBAPIError`` subclasses for what the database refuses.
    """

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    async def one(self, statement: Statement, params: Params) -> Row | None:
        """The first row (None when there is none)."""
        rows = await self.all(statement, params)
        return rows[0] if rows else None

    async def scalar(self, statement: Statement, params: Params) -> Any:
        """The first column of the first row. Raises ``LookupError`` when there is no row."""
        row = await self.one(statement, params)
        if row is None:
            raise LookupError("the statement returned no row")
        return row[0]

    async def all(self, statement: Statement, params: Params) -> list[Row]:
        """Every row."""
        raise NotImplementedError

    async def run(self, statement: Statement, params: Params) -> None:
        """Run a statement whose rows, if any, are not wanted."""
        await self.all(statement, params)

    async def run_many(self, statement: Statement, rows: Sequence[Params]) -> None:
        """Run a statement without result rows once per parameter set."""
        raise NotImplementedError

    def _error(self, sql: str, exc: BaseException, base: type[Exception]) -> BaseException:
        return DBAPIError.instance(sql, None, exc, base, hide_parameters=True, dialect=self.dialect)


class _SQLite(Driver):
    """The ``sqlite3`` connection of an ``InlineStatements`` write transaction, used directly."""

    def __init__(self, dialect: Dialect, connection: sqlite3.Connection) -> None:
        super().__init__(dialect)
        self._connection = connection

    def _live(self) -> sqlite3.Connection:
        connection = self._connection
        if not connection.in_transaction:
            raise RuntimeError("the driver was used after its transaction ended")
        return connection

    async def all(self, statement: Statement, params: Params) -> list[Row]:
        compiled = statement.compiled(self.dialect)
        sql = compiled.sql
        if on_statement is not None:
            on_statement(sql)
        try:
            rows = self._live().execute(sql, compiled.args(params)).fetchall()
        except sqlite3.Error as exc:
            raise self._error(sql, exc, sqlite3.Error) from exc
        return [compiled.row(row) for row in rows]

    async def run(self, statement: Statement, params: Params) -> None:
        compiled = statement.compiled(self.dialect)
        sql = compiled.sql
        if on_statement is not None:
            on_statement(sql)
        try:
            self._live().execute(sql, compiled.args(params))
        except sqlite3.Error as exc:
            raise self._error(sql, exc, sqlite3.Error) from exc

    async def run_many(self, statement: Statement, rows: Sequence[Params]) -> None:
        if not rows:
            return
        compiled = statement.compiled(self.dialect)
        sql = compiled.sql
        if on_statement is not None:
            on_statement(sql)
        try:
            self._live().executemany(sql, [compiled.args(params) for params in rows])
        except sqlite3.Error as exc:
            raise self._error(sql, exc, sqlite3.Error) from exc


class _Aiosqlite(Driver):
    """An aiosqlite connection outside a write transaction (``InlineStatements`` runs a read
    inline within its budget, else on the connection's thread)."""

    def __init__(self, dialect: Dialect, connection: aiosqlite.Connection) -> None:
        super().__init__(dialect)
        self._connection = connection

    async def all(self, statement: Statement, params: Params) -> list[Row]:
        compiled = statement.compiled(self.dialect)
        sql = compiled.sql
        if on_statement is not None:
            on_statement(sql)
        try:
            async with self._connection.execute(sql, compiled.args(params)) as cursor:
                rows = await cursor.fetchall()
        except sqlite3.Error as exc:
            raise self._error(sql, exc, sqlite3.Error) from exc
        return [compiled.row(row) for row in rows]

    async def run_many(self, statement: Statement, rows: Sequence[Params]) -> None:
        if not rows:
            return
        compiled = statement.compiled(self.dialect)
        sql = compiled.sql
        if on_statement is not None:
            on_statement(sql)
        try:
            await self._connection.executemany(sql, [compiled.args(params) for params in rows])
        except sqlite3.Error as exc:
            raise self._error(sql, exc, sqlite3.Error) from exc


class _Asyncpg(Driver):
    """The asyncpg connection under SQLAlchemy's adapter, in the adapter's transaction."""

    def __init__(self, dialect: Dialect, adapted: Any) -> None:
        super().__init__(dialect)
        self._adapted = adapted
        self._connection = adapted._connection

    async def _begun(self) -> None:
        # SQLAlchemy's asyncpg adapter begins its transaction at the first statement (DB-API's
        # implicit begin); a statement run past it must begin it the same way, or it would run
        # (and commit) on its own.
        adapted = self._adapted
        if adapted._transaction is None and adapted.isolation_level != "autocommit":
            await adapted._start_transaction()

    def _translated(self, sql: str, exc: Exception) -> BaseException:
        try:
            self._adapted._handle_exception(exc)  # raises the adapter's DB-API error for it
        except Exception as adapted:
            return self._error(sql, adapted, self.dialect.loaded_dbapi.Error)
        return exc  # pragma: no cover - _handle_exception always raises

    async def all(self, statement: Statement, params: Params) -> list[Row]:
        compiled = statement.compiled(self.dialect)
        sql = compiled.sql
        if on_statement is not None:
            on_statement(sql)
        await self._begun()
        try:
            rows = await self._connection.fetch(sql, *compiled.args(params))
        except Exception as exc:
            raise self._translated(sql, exc) from exc
        return [compiled.row(row) for row in rows]

    async def run(self, statement: Statement, params: Params) -> None:
        compiled = statement.compiled(self.dialect)
        sql = compiled.sql
        if on_statement is not None:
            on_statement(sql)
        await self._begun()
        try:
            await self._connection.execute(sql, *compiled.args(params))
        except Exception as exc:
            raise self._translated(sql, exc) from exc

    async def run_many(self, statement: Statement, rows: Sequence[Params]) -> None:
        if not rows:
            return
        compiled = statement.compiled(self.dialect)
        sql = compiled.sql
        if on_statement is not None:
            on_statement(sql)
        await self._begun()
        try:
            await self._connection.executemany(sql, [compiled.args(params) for params in rows])
        except Exception as exc:
            raise self._translated(sql, exc) from exc


class _Alchemy(Driver):
    """SQLAlchemy's own execution, for drivers this module does not know."""

    def __init__(self, dialect: Dialect, connection: AsyncConnection) -> None:
        super().__init__(dialect)
        self._connection = connection

    async def all(self, statement: Statement, params: Params) -> list[Row]:
        result = await self._connection.execute(statement.clause, dict(params))
        return [tuple(row) for row in result.all()] if result.returns_rows else []

    async def run_many(self, statement: Statement, rows: Sequence[Params]) -> None:
        if rows:
            await self._connection.execute(statement.clause, [dict(params) for params in rows])


_CACHED = "pyairtable_driver"


async def driver_of(db: AsyncSession) -> Driver:
    """The driver of ``db``'s current transaction, begun if it was not (on a writer session
    that takes the write turn and, on SQLite, the write lock).

    Kept in the session for the rest of that transaction: asking the session for its connection
    again cost more than most statements run on it."""
    session = db.sync_session
    cached = session.info.get(_CACHED)
    if cached is not None and cached[0] is session.get_transaction():
        return cast(Driver, cached[1])
    driver = driver_for(await db.connection())
    # The transaction whose connection this is: a later one may hold another connection.
    session.info[_CACHED] = (session.get_transaction(), driver)
    return driver


def driver_for(connection: AsyncConnection) -> Driver:
    """The driver of ``connection``'s current transaction (see ``driver_of``)."""
    sync = connection.sync_connection
    assert sync is not None
    pooled = sync.connection
    dialect = sync.dialect
    native = pooled.driver_connection
    if isinstance(native, InlineStatements):
        inline = native.inline_connection
        if inline is not None:
            return _SQLite(dialect, inline)
    if isinstance(native, aiosqlite.Connection):
        return _Aiosqlite(dialect, native)
    if dialect.driver == "asyncpg":
        return _Asyncpg(dialect, pooled.dbapi_connection)
    return _Alchemy(dialect, connection)
