"""The database handle: one async engine, a read and a write session factory.

On SQLite every write transaction starts with ``BEGIN IMMEDIATE``: a deferred transaction that
reads and then writes can fail with "database is locked" the moment another writer holds the
lock, without waiting for ``busy_timeout``; taking the write lock up front makes writers queue.

**Statements of a write transaction run on the event loop's thread** (SQLite files; see
``InlineWrites``). aiosqlite sends every call to the connection's own thread and back; for the
small indexed statements of a write that hop cost more than the statement (about a tenth of a
record write's CPU, and, under load, waits for the GIL while the write lock is held). Once
``BEGIN IMMEDIATE`` has taken the lock nothing inside the transaction can wait for another
connection (WAL readers never block a writer), so its statements run inline; ``BEGIN`` (which may
wait for another writer) and ``COMMIT``/``ROLLBACK`` (which may checkpoint the WAL to disk) still
run on the connection's thread. Reads outside a write transaction stay on the thread, so a long
scan never stalls the loop. The price: a write statement that scans (a field type conversion
over a large table) holds the loop for its duration.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from functools import partial
from typing import Any

import aiosqlite
import anyio
from sqlalchemy import event, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from .. import json_codec

_IMMEDIATE = "pyairtable_begin_immediate"
SQLITE_BUSY_TIMEOUT_MS = 15_000


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
            options.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        database = make_url(url).database if self.is_sqlite else None
        if database and database != ":memory:" and not database.startswith("file:"):
            options["async_creator"] = partial(_connect_inline_writes, database)
        self.engine: AsyncEngine = create_async_engine(url, **options)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        #: The same pool; on SQLite its transactions take the write lock when they begin.
        self.write_engine: AsyncEngine = self.engine.execution_options(**{_IMMEDIATE: True})
        self._reader = async_sessionmaker(self.engine, expire_on_commit=False)
        self._writer = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._write_lock = anyio.Lock() if self.is_sqlite else None

    def reader(self) -> AsyncSession:
        """A session for reads only."""
        return self._reader()

    def write_turn(self) -> AbstractAsyncContextManager[object]:
        """This process's turn to write: a FIFO lock on SQLite, nothing on PostgreSQL (whose
        writers only wait for the rows they share)."""
        return self._write_lock if self._write_lock is not None else nullcontext()

    def writer(self) -> AsyncSession:
        """A session whose transaction may write (takes the SQLite write lock at its start)."""
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


class InlineWrites(aiosqlite.Connection):
    """An aiosqlite connection that runs on the caller's thread what cannot wait.

    Inside a write transaction (after a successful ``BEGIN IMMEDIATE``, until it ends) every call
    runs inline except ``COMMIT``, which may write the WAL back to the database file. Anywhere,
    making or closing a cursor and ``ROLLBACK`` run inline (no I/O to wait for). The rest goes
    to the connection's thread as in aiosqlite: ``BEGIN``, which may wait for another writer,
    and statements outside a write, which may scan. Calls on one connection never overlap
    (SQLAlchemy awaits each), so the sqlite3 connection is used by one thread at a time.
    """

    _writing = False

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        kind = _kind(fn, args, self._connection)
        if kind == "ends" or (kind == "other" and not self._writing):
            try:
                result = await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]
            finally:
                if kind == "ends":
                    self._writing = False
        else:
            if self._connection is None:
                raise ValueError("Connection closed")
            result = fn(*args, **kwargs)
            if kind == "rollback":
                self._writing = False
        if kind == "other" and _statement(args).startswith("BEGIN IMMEDIATE"):
            self._writing = True
        return result


def _statement(args: tuple[Any, ...]) -> str:
    return args[0].lstrip()[:16].upper() if args and isinstance(args[0], str) else ""


def _kind(
    fn: Callable[..., Any], args: tuple[Any, ...], connection: sqlite3.Connection | None
) -> str:
    """``ends`` (commit or close: on the thread), ``rollback`` and ``cheap`` (inline anywhere),
    or ``other`` (inline only inside a write transaction)."""
    name = getattr(fn, "__name__", "")
    owner = getattr(fn, "__self__", None)
    if owner is connection:
        if name in ("commit", "close"):
            return "ends"
        if name == "rollback":
            return "rollback"
        if name == "cursor":
            return "cheap"
    elif isinstance(owner, sqlite3.Cursor) and name == "close":
        return "cheap"
    statement = _statement(args)
    if statement.startswith(("COMMIT", "END")):
        return "ends"
    if statement.startswith("ROLLBACK") and not statement.startswith("ROLLBACK TO"):
        return "rollback"
    return "other"


async def _connect_inline_writes(database: str) -> InlineWrites:
    """Open ``database`` as aiosqlite would, as an ``InlineWrites`` connection."""
    # check_same_thread: the connection is made on its thread and also used from the loop's.
    connection = InlineWrites(
        partial(sqlite3.connect, database, check_same_thread=False), iter_chunk_size=64
    )
    connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite's own connections
    await connection
    return connection


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
            conn.exec_driver_sql("BEGIN IMMEDIATE")
