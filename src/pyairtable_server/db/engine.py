"""The database handle: one async engine, a read and a write session factory.

On SQLite every write transaction starts with ``BEGIN IMMEDIATE``: a deferred transaction that
reads and then writes can fail with "database is locked" the moment another writer holds the
lock, without waiting for ``busy_timeout``; taking the write lock up front makes writers queue.

**Statements run on the event loop's thread** (SQLite files; see ``InlineStatements``).
aiosqlite sends every call to the connection's own thread and back; for the small indexed
statements of a request that hop cost more than the statement, and on a busy machine each hop
waits for the scheduler (and for the GIL, which the loop holds while it works for other
requests), so under concurrency the hops, not the work, set the pace: reads got *slower* in
total at 16 connections than at one, and a write holding the lock waited for them.

- A write transaction: ``BEGIN IMMEDIATE`` is tried inline without waiting (``busy_timeout`` 0):
  when another connection holds the lock it goes to the connection's thread and waits there, so
  the loop never waits for a lock. Inside the transaction nothing can wait for another
  connection (WAL readers never block a writer), and ``COMMIT`` in WAL mode with ``synchronous=
  NORMAL`` only appends to the WAL.
- A read (a ``SELECT`` outside a write transaction) runs inline, all its rows fetched at once,
  within a budget of ``INLINE_READ_BUDGET_S`` and without waiting for any lock. A read that
  would take longer (a count over a large table, a filter no index serves) is interrupted by
  SQLite's progress handler and run again on the connection's thread, where it may take as long
  as it needs; so is one that meets a busy database. Reading twice is harmless, and the loop
  never stalls for more than the budget.

The price: a write statement that scans (a field type conversion over a large table) holds the
loop for its duration, and so does the WAL checkpoint a commit runs every 1,000 pages or so
(two fsyncs).
"""

from __future__ import annotations

import sqlite3
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

import aiosqlite
from sqlalchemy import event, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from .. import json_codec
from .write_turn import TurnSession, WriteTurn

_IMMEDIATE = "pyairtable_begin_immediate"
SQLITE_BUSY_TIMEOUT_MS = 15_000
#: Connections kept open for a SQLite file, and how many more concurrent requests may open.
SQLITE_POOL_SIZE = 32
SQLITE_POOL_OVERFLOW = 64
#: CPU time a read may take on the loop's thread before it moves to the connection's thread.
INLINE_READ_BUDGET_S = 0.002
#: SQLite virtual machine steps between two looks at the clock during an inline read (some
#: tens of microseconds of work: the clock costs well under a percent of the read).
_BUDGET_CHECK_STEPS = 1_000


class Database:
    """Owns the engine; ``reader()`` and ``writer()`` open sessions for one unit of work."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        # Bound parameters hold user data (cell values, emails, tokens' hashes): keep them out of
        # every exception text and log line SQLAlchemy writes. ``echo`` stays off in the app.
        # Stored JSON (record fields, event payloads) goes through orjson: see ``json_codec``.
        options: dict[str, Any] = {
            "echo": echo,
            "hide_parameters": True,
            "json_serializer": json_codec.dumps,
            "json_deserializer": json_codec.loads,
        }
        if not self.is_sqlite:
            # Stale connections (a restarted server) are caught by ``_ping_when_idle``.
            options.update(pool_size=10, max_overflow=20)
        database = make_url(url).database if self.is_sqlite else None
        #: Whether connections run their statements inline (``InlineStatements``): closing a
        #: reader then never waits for anything, so nothing can interrupt it halfway.
        self.inline = False
        if database and database != ":memory:" and not database.startswith("file:"):
            self.inline = True
            options["async_creator"] = partial(_connect_inline, database)
            # Connections past ``pool_size`` are closed when given back, and opening one costs
            # a thread, the pragmas and a cold cache: at 16 concurrent requests the default 5
            # meant a new connection every 20 requests. Idle ones cost a parked thread each.
            options.update(pool_size=SQLITE_POOL_SIZE, max_overflow=SQLITE_POOL_OVERFLOW)
        self.engine: AsyncEngine = create_async_engine(url, **options)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        else:
            _ping_when_idle(self.engine)
        #: The same pool; on SQLite its transactions take the write lock when they begin.
        self.write_engine: AsyncEngine = self.engine.execution_options(**{_IMMEDIATE: True})
        self._reader = async_sessionmaker(self.engine, expire_on_commit=False)
        #: On SQLite, one write transaction at a time in this process (see ``write_turn``).
        self.turn = WriteTurn() if self.is_sqlite else None
        self._writer = async_sessionmaker(
            self.write_engine, class_=TurnSession, expire_on_commit=False, turn=self.turn
        )

    def reader(self) -> AsyncSession:
        """A session for reads only."""
        return self._reader()

    def writer(self) -> TurnSession:
        """A session whose transactions may write. On SQLite each takes this process's write
        turn (a FIFO queue) and then the database's write lock before its first statement, and
        gives both back when it ends; on PostgreSQL writers only wait for the rows they share.
        Do slow work between transactions, never inside one."""
        return self._writer()

    async def ping(self) -> float:
        """Round-trip a trivial query; return its latency in milliseconds."""
        started = time.perf_counter()
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return (time.perf_counter() - started) * 1000

    async def folds_unicode_case(self) -> bool:
        """Whether ``lower()`` folds non-ASCII letters here (text filters rely on it).

        SQLite gets Python's ``lower`` (see ``_configure_sqlite``); PostgreSQL folds by the
        database's ``LC_CTYPE``, which under the plain ``C`` locale is ASCII only.
        """
        async with self.engine.connect() as conn:
            folded = (await conn.execute(text("SELECT lower('ÉÇ')"))).scalar_one()
        return bool(folded == "éç")

    async def dispose(self) -> None:
        await self.engine.dispose()


class InlineStatements(aiosqlite.Connection):
    """An aiosqlite connection that runs on the caller's thread whatever need not wait.

    Inline anywhere: making and closing cursors, ``COMMIT`` and ``ROLLBACK``. Inline inside a
    write transaction (after a successful ``BEGIN IMMEDIATE``, until it ends): every statement.
    ``BEGIN IMMEDIATE`` itself inline when the lock is free at once, else on the connection's
    thread (which waits up to ``busy_timeout`` for it). Outside a write transaction, a
    ``SELECT`` inline with its rows when it finishes within ``INLINE_READ_BUDGET_S`` without
    meeting a lock, else again on the thread. Everything else goes to the thread as in
    aiosqlite. Calls on one connection never overlap (SQLAlchemy awaits each), so the sqlite3
    connection is used by one thread at a time.
    """

    _writing = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Rows of reads that ran inline, by cursor, until the caller fetches them.
        self._fetched: dict[sqlite3.Cursor, deque[Any]] = {}

    @property
    def inline_connection(self) -> sqlite3.Connection | None:
        """The ``sqlite3`` connection while this connection's write transaction is open (every
        statement then runs on the caller's thread, as here); None otherwise."""
        return self._connection if self._writing else None

    def begin_now(self) -> bool:
        """Begin a write transaction here, at once, if the write lock is free: whether it did.

        False when another connection holds the lock or ``BEGIN`` failed otherwise: the caller
        then runs ``BEGIN IMMEDIATE`` as a statement (see ``_execute``), which waits for the
        lock on the connection's thread or raises the error as SQLAlchemy wraps it.
        """
        connection = self._connection
        if connection is None or self._writing:
            return False
        try:
            began = _begin_without_waiting(connection, connection.execute, ("BEGIN IMMEDIATE",), {})
        except sqlite3.Error:
            return False
        if began is _LOCKED:
            return False
        self._writing = True
        return True

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        kind = _kind(fn, args, self._connection)
        connection = self._connection
        if kind == "fetch":
            rows = self._fetched.get(fn.__self__)  # type: ignore[attr-defined]
            if rows is not None:
                return _serve(self._fetched, fn, rows, *args)
        if kind == "read" and not self._writing and connection is not None:
            cursor = fn.__self__  # type: ignore[attr-defined]
            rows = _read_within_budget(connection, cursor, args)
            if rows is not _OVER_BUDGET:
                self._fetched[cursor] = rows
                return cursor
        elif kind == "begin" and connection is not None:
            began = _begin_without_waiting(connection, fn, args, kwargs)
            if began is not _LOCKED:
                self._writing = True
                return began
        elif kind == "inline" or (kind != "thread" and self._writing):
            if connection is None:
                raise ValueError("Connection closed")
            try:
                return fn(*args, **kwargs)
            finally:
                if _ends_transaction(fn, args, connection):
                    self._writing = False
                elif kind == "inline" and self._fetched:  # a cursor closed before its rows
                    self._fetched.pop(getattr(fn, "__self__", None), None)  # type: ignore[arg-type]
        result = await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]
        if kind == "begin":
            self._writing = True
        return result


_OVER_BUDGET: Any = object()


def _read_within_budget(
    connection: sqlite3.Connection, cursor: sqlite3.Cursor, args: tuple[Any, ...]
) -> Any:
    """Run a ``SELECT`` on ``cursor`` here and fetch all its rows, within the read budget and
    without waiting for a lock: the rows, or ``_OVER_BUDGET`` when it was interrupted or met a
    busy database (nothing was changed: it only read). Other errors are raised as they are.

    The budget counts this thread's CPU time: on a busy machine a read preempted halfway has
    spent none of it, and moving it to another thread would not have made it end sooner."""
    deadline = time.thread_time() + INLINE_READ_BUDGET_S

    def over_budget() -> bool:
        return time.thread_time() > deadline

    connection.execute("PRAGMA busy_timeout=0")
    connection.set_progress_handler(over_budget, _BUDGET_CHECK_STEPS)
    try:
        cursor.execute(*args)
        return deque(cursor.fetchall())
    except sqlite3.OperationalError as exc:
        message = str(exc)
        if "interrupted" not in message and "locked" not in message and "busy" not in message:
            raise
        return _OVER_BUDGET
    finally:
        connection.set_progress_handler(None, 0)
        connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")


def _serve(
    fetched: dict[sqlite3.Cursor, deque[Any]],
    fn: Callable[..., Any],
    rows: deque[Any],
    *args: Any,
) -> Any:
    """Answer ``fetchone``/``fetchmany``/``fetchall`` from rows a read fetched inline."""
    cursor: sqlite3.Cursor = fn.__self__  # type: ignore[attr-defined]
    name = fn.__name__
    if name == "fetchone":
        answer: Any = rows.popleft() if rows else None
    elif name == "fetchmany":
        size = args[0] if args else cursor.arraysize
        answer = [rows.popleft() for _ in range(min(size, len(rows)))]
    else:
        answer = list(rows)
        rows.clear()
    if not rows:
        del fetched[cursor]
    return answer


_LOCKED = object()


def _begin_without_waiting(
    connection: sqlite3.Connection,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """Run ``BEGIN IMMEDIATE`` inline if the write lock is free now: its result, or ``_LOCKED``
    if another connection holds the lock (nothing was begun)."""
    connection.execute("PRAGMA busy_timeout=0")
    try:
        return fn(*args, **kwargs)
    except sqlite3.OperationalError as exc:
        if connection.in_transaction or "locked" not in str(exc):
            raise
        return _LOCKED
    finally:
        connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")


def _statement(args: tuple[Any, ...]) -> str:
    return args[0].lstrip()[:16].upper() if args and isinstance(args[0], str) else ""


_FETCHES = frozenset({"fetchone", "fetchmany", "fetchall"})


def _kind(
    fn: Callable[..., Any], args: tuple[Any, ...], connection: sqlite3.Connection | None
) -> str:
    """``inline`` (anywhere), ``begin`` (``BEGIN IMMEDIATE``), ``thread`` (closing the
    connection), ``read`` (a cursor's ``SELECT``), ``fetch`` (a cursor's rows) or ``other``
    (inline only inside a write transaction)."""
    name = getattr(fn, "__name__", "")
    owner = getattr(fn, "__self__", None)
    if owner is connection:
        if name == "close":
            return "thread"
        if name in ("commit", "rollback", "cursor"):
            return "inline"
    elif isinstance(owner, sqlite3.Cursor):
        if name == "close":
            return "inline"
        if name in _FETCHES:
            return "fetch"
        if name == "execute" and _statement(args).startswith("SELECT"):
            return "read"
    statement = _statement(args)
    if statement.startswith("BEGIN IMMEDIATE"):
        return "begin"
    if statement.startswith(("COMMIT", "END", "ROLLBACK")):
        return "inline"
    return "other"


def _ends_transaction(
    fn: Callable[..., Any], args: tuple[Any, ...], connection: sqlite3.Connection
) -> bool:
    if getattr(fn, "__self__", None) is connection:
        return getattr(fn, "__name__", "") in ("commit", "rollback")
    statement = _statement(args)
    return statement.startswith(("COMMIT", "END")) or (
        statement.startswith("ROLLBACK") and not statement.startswith("ROLLBACK TO")
    )


async def _connect_inline(database: str) -> InlineStatements:
    """Open ``database`` as aiosqlite would, as an ``InlineStatements`` connection."""
    # check_same_thread: the connection is made on its thread and also used from the loop's.
    connection = InlineStatements(
        partial(sqlite3.connect, database, check_same_thread=False), iter_chunk_size=64
    )
    connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite's own connections
    await connection
    return connection


#: A pooled connection given back this long ago is pinged before it is used again.
PING_AFTER_IDLE_S = 1.0
_RETURNED_AT = "pyairtable_returned_at"


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Check a pooled connection with a round trip before using it, if it sat idle.

    A connection the server dropped (a restart, an idle timeout) then never reaches a request:
    the pool replaces it. This is SQLAlchemy's ``pool_pre_ping``, except that a connection given
    back less than ``PING_AFTER_IDLE_S`` ago is taken as alive: the pre-ping cost every request
    three round trips on asyncpg (its ping begins and rolls back a transaction), more than the
    statements of a small write. A server that drops connections in use fails those requests as
    before; its disconnect errors make the pool replace every connection.
    """
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkin")
    def _returned(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _checked_out(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED_AT)
        if returned is None or time.monotonic() - returned < PING_AFTER_IDLE_S:
            return  # new (just connected), or in use a moment ago
        try:
            dbapi_connection.ping()
        except Exception as exc:
            # The pool invalidates this connection and checks out another (a fresh one).
            raise DisconnectionError("the pooled connection did not answer a ping") from exc


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _switch_to_wal(cursor: Any) -> None:
    """Put a (new) database file in WAL mode, the setting persists in the file.

    SQLite does not call the busy handler for this switch, so a process racing another one on a
    fresh file gets an instant "database is locked"; we wait for it ourselves, as long as
    busy_timeout would have. This runs on the driver's own thread, where blocking is fine.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins (see module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode")
        if cursor.fetchone()[0] != "wal":
            _switch_to_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        # SQLite's lower() folds ASCII only; fold all of Unicode, as PostgreSQL and Python do.
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Readers run each statement in its own implicit transaction: an explicit BEGIN would
        # cost one more trip to the driver's thread per request and buy no consistency a GET
        # needs (none of them depends on a snapshot spanning two statements).
        if conn.get_execution_options().get(_IMMEDIATE, False):
            # Straight on the driver when the lock is free: as a statement, SQLAlchemy's
            # execution of it cost a small write more than SQLite's work for the whole write.
            native = conn.connection.driver_connection
            if not (isinstance(native, InlineStatements) and native.begin_now()):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
