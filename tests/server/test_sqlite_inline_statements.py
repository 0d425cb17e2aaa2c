"""SQLite statements run on the loop's thread: a write transaction's all, a read's when it ends
within the budget; a longer read moves to the connection's thread, and neither a writer waiting
for the lock nor a long read stalls the loop (``db.engine``)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import anyio
import anyio.lowlevel
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from pyairtable_server.db import engine
from pyairtable_server.db.engine import Database

pytestmark = pytest.mark.anyio
MANY = 3_000
#: A read that takes far longer than the inline budget: it counts MANY * MANY pairs.
LONG_READ = "SELECT count(*), which_thread() FROM many AS a, many AS b"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}")
    async with database.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        await conn.execute(text("CREATE TABLE many (n INTEGER PRIMARY KEY)"))
        await conn.execute(
            text(
                "INSERT INTO many (n) WITH RECURSIVE c(n) AS "
                f"(SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < {MANY}) SELECT n FROM c"
            )
        )
    try:
        yield database
    finally:
        await database.dispose()


async def _thread_of_statement(
    session: AsyncSession, statement: str = "SELECT which_thread()"
) -> int:
    """The id of the thread that last ran ``statement`` in ``session`` (through a SQL function)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    ran_on: list[int] = []

    def which_thread() -> int:
        ran_on.append(threading.get_ident())
        return 0

    assert raw.driver_connection is not None
    raw.driver_connection._conn.create_function("which_thread", 0, which_thread)
    await session.execute(text(statement))
    return ran_on[-1]


async def test_write_statements_and_short_reads_run_inline(db: Database) -> None:
    loop_thread = threading.get_ident()
    async with db.writer() as session:
        await session.execute(text("INSERT INTO t (v) VALUES ('a')"))
        assert await _thread_of_statement(session) == loop_thread
        await session.commit()
    async with db.reader() as session:
        assert await _thread_of_statement(session) == loop_thread


async def test_a_read_over_the_budget_moves_to_the_connection_thread_with_its_answer(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "INLINE_READ_BUDGET_S", 0.0)
    loop_thread = threading.get_ident()
    async with db.reader() as session:
        assert await _thread_of_statement(session, LONG_READ) != loop_thread
        count = (await session.execute(text("SELECT count(*) FROM many"))).scalar_one()
        assert count == MANY
        # Small reads still fit any budget's first check, and stay inline.
        assert await _thread_of_statement(session) == loop_thread


async def test_a_long_read_does_not_stall_the_loop(db: Database) -> None:
    """The loop keeps running while a read far longer than the budget is counted."""
    ticks = 0
    done = anyio.Event()

    async def tick() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await anyio.lowlevel.checkpoint()

    async def read() -> None:
        async with db.reader() as session:
            await session.execute(text("SELECT 1"))  # the connection exists before counting
            before = ticks
            row = (await session.execute(text(LONG_READ.replace(", which_thread()", "")))).one()
            assert row[0] == MANY * MANY
            assert ticks > before + 1
        done.set()

    with anyio.fail_after(60):
        async with anyio.create_task_group() as group:
            group.start_soon(tick)
            group.start_soon(read)


async def test_rows_of_an_inline_read_reach_a_streaming_cursor(db: Database) -> None:
    """A server-side cursor fetches in chunks; an inline read serves each from its rows."""
    async with db.engine.connect() as conn:
        result = await conn.stream(text("SELECT n FROM many ORDER BY n"))
        first = await result.fetchmany(7)
        one = await result.fetchone()
        rest = [row async for row in result]
    assert [r.n for r in first] == list(range(1, 8))
    assert one is not None and one.n == 8
    assert [r.n for r in rest] == list(range(9, MANY + 1))


async def test_a_write_with_the_lock_free_never_goes_to_the_connection_thread(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BEGIN IMMEDIATE, the statements and COMMIT all run inline: no hop to wait for while the
    write lock is held; nor does a short read make one."""
    async with db.reader() as session:  # the pool's connection exists before counting
        await session.execute(text("SELECT 1"))
    sent: list[object] = []
    to_thread = aiosqlite.Connection._execute

    async def counting(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(fn)
        return await to_thread(self, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counting)
    async with db.writer() as session:
        await session.execute(text("INSERT INTO t (v) VALUES ('a')"))
        await session.commit()
    assert sent == []
    async with db.reader() as session:
        assert (await session.execute(text("SELECT count(*) FROM t"))).scalar_one() == 1
    assert sent == []


async def test_after_a_rollback_a_long_read_goes_to_the_thread_again(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside a write every statement runs inline whatever its length; after the rollback the
    connection is a reader again, whose long reads leave the loop."""
    monkeypatch.setattr(engine, "INLINE_READ_BUDGET_S", 0.0)
    loop_thread = threading.get_ident()
    async with db.writer() as session:
        await session.execute(text("INSERT INTO t (v) VALUES ('gone')"))
        assert await _thread_of_statement(session, LONG_READ) == loop_thread
        await session.rollback()
    async with db.reader() as session:
        assert await _thread_of_statement(session, LONG_READ) != loop_thread
        count = (await session.execute(text("SELECT count(*) FROM t"))).scalar_one()
    assert count == 0


async def test_a_failed_statement_inside_a_write_raises_and_leaves_nothing(db: Database) -> None:
    async with db.writer() as session:
        await session.execute(text("INSERT INTO t (id, v) VALUES (1, 'first')"))
        with pytest.raises(Exception, match="UNIQUE"):
            await session.execute(text("INSERT INTO t (id, v) VALUES (1, 'again')"))
        await session.rollback()
    async with db.reader() as session:
        assert (await session.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0


async def test_a_writer_waiting_for_the_lock_does_not_stall_the_loop(db: Database) -> None:
    """Two writers without the in-process turn: the second waits for the first's commit on its
    connection's thread while the loop keeps running, then writes."""
    ticks = 0
    first_holds = anyio.Event()
    loop_ran = anyio.Event()
    second_done = anyio.Event()

    async def first() -> None:
        async with db.writer() as session:
            await session.execute(text("INSERT INTO t (v) VALUES ('first')"))
            first_holds.set()
            # The loop must keep ticking while the second writer waits for this lock.
            await loop_ran.wait()
            await session.commit()

    async def second() -> None:
        await first_holds.wait()
        async with db.writer() as session:
            await session.execute(text("INSERT INTO t (v) VALUES ('second')"))
            await session.commit()
        second_done.set()

    async def tick() -> None:
        nonlocal ticks
        while not second_done.is_set():
            ticks += 1
            if ticks == 5:
                loop_ran.set()
            await anyio.sleep(0.01)

    with anyio.fail_after(20):
        async with anyio.create_task_group() as group:
            group.start_soon(tick)
            group.start_soon(first)
            group.start_soon(second)
    async with db.reader() as session:
        rows = (await session.execute(text("SELECT v FROM t ORDER BY id"))).scalars().all()
    assert rows == ["first", "second"]
