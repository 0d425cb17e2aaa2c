"""Statements run on the driver (``db.driver``) belong to the session's transaction, store and
read values exactly as SQLAlchemy does, and fail with SQLAlchemy's errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from pyairtable_server.db.driver import Statement, driver_of
from pyairtable_server.db.engine import Database
from pyairtable_server.db.models import AuditEntry, IdempotentAnswer, table_of

from .backend import Api

pytestmark = pytest.mark.anyio

_AUDIT = table_of(AuditEntry)
_AUDIT_KEYS = ("occurred_at", "action", "resource_type", "resource_id", "details")
_INSERT_AUDIT = Statement(insert(_AUDIT), keys=_AUDIT_KEYS)
_FIND_AUDIT = Statement(
    select(_AUDIT.c.occurred_at, _AUDIT.c.details).where(
        _AUDIT.c.resource_id == bindparam("resource_id")
    )
)
_ANSWER_KEYS = ("user_id", "key", "fingerprint", "status_code", "body", "created_at")
_INSERT_ANSWER = Statement(insert(table_of(IdempotentAnswer)), keys=_ANSWER_KEYS)
WHEN = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
DETAILS = {"ids": ["rec1", "rec2"], "note": "ünïcode ✓", "nested": {"n": 1.5, "none": None}}


def _db(api: Api) -> Database:
    db = api.app.state.services.db
    assert isinstance(db, Database)
    return db


def _entry(resource_id: str) -> dict[str, object]:
    return {
        "occurred_at": WHEN,
        "action": "test.driver",
        "resource_type": "test",
        "resource_id": resource_id,
        "details": DETAILS,
    }


async def _audit_ids(db: Database) -> set[str | None]:
    async with db.reader() as session:
        return set(await session.scalars(select(AuditEntry.resource_id)))


async def test_driver_statements_commit_and_roll_back_with_the_session(api: Api) -> None:
    db = _db(api)
    async with db.writer() as session:
        driver = await driver_of(session)
        await driver.run_many(_INSERT_AUDIT, [_entry("rolled-back")])
        await session.rollback()
    async with db.writer() as session:
        driver = await driver_of(session)
        await driver.run_many(_INSERT_AUDIT, [_entry("committed")])
        await session.commit()
    ids = await _audit_ids(db)
    assert "committed" in ids
    assert "rolled-back" not in ids


async def test_values_written_on_the_driver_read_back_through_sqlalchemy_unchanged(
    api: Api,
) -> None:
    db = _db(api)
    async with db.writer() as session:
        await (await driver_of(session)).run_many(_INSERT_AUDIT, [_entry("by-driver")])
        session.add(AuditEntry(**_entry("by-orm")))
        await session.commit()
    async with db.reader() as session:
        stored = await session.scalar(
            select(AuditEntry).where(AuditEntry.resource_id == "by-driver")
        )
        assert stored is not None
        assert (stored.occurred_at, stored.details) == (WHEN, DETAILS)
        # The other way round, in a reader (on SQLite: aiosqlite's path, not the write one).
        row = await (await driver_of(session)).one(_FIND_AUDIT, {"resource_id": "by-orm"})
    assert row == (WHEN, DETAILS)
    assert row is not None and row[0].tzinfo is not None


async def test_a_unique_violation_on_the_driver_is_sqlalchemys_integrity_error(api: Api) -> None:
    db = _db(api)
    answer = {
        "user_id": "usr1",
        "key": "k",
        "fingerprint": "f",
        "status_code": 201,
        "body": "{}",
        "created_at": WHEN,
    }
    async with db.writer() as session:
        driver = await driver_of(session)
        await driver.run(_INSERT_ANSWER, answer)
        with pytest.raises(IntegrityError) as raised:
            await driver.run(_INSERT_ANSWER, answer)
        # The statement is in the error, its values (user data) are not.
        assert "INSERT INTO idempotency_keys" in str(raised.value)
        assert "usr1" not in str(raised.value)
        await session.rollback()
        # The session goes on, in a new transaction with a driver of its own.
        again = await driver_of(session)
        assert again is not driver
        await again.run(_INSERT_ANSWER, answer)
        await session.commit()
    async with db.reader() as session:
        assert await session.get(IdempotentAnswer, ("usr1", "k")) is not None


async def test_one_driver_serves_a_whole_transaction_and_not_the_next(api: Api) -> None:
    db = _db(api)
    async with db.writer() as session:
        first = await driver_of(session)
        assert await driver_of(session) is first
        await first.run_many(_INSERT_AUDIT, [_entry("one")])
        await session.commit()
        second = await driver_of(session)
        assert second is not first
        await second.run_many(_INSERT_AUDIT, [_entry("two")])
        await session.commit()
    assert {"one", "two"} <= await _audit_ids(db)


async def test_a_sqlite_driver_refuses_work_after_its_transaction(api: Api) -> None:
    db = _db(api)
    if not db.inline:
        pytest.skip("only SQLite files run statements on the sqlite3 connection itself")
    async with db.writer() as session:
        driver = await driver_of(session)
        await session.commit()
        with pytest.raises(RuntimeError, match="after its transaction ended"):
            await driver.run_many(_INSERT_AUDIT, [_entry("late")])
    assert "late" not in await _audit_ids(db)
