"""Alembic migrations build exactly the models, on both databases, even from racing processes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from pyairtable_server.db.engine import Database
from pyairtable_server.db.migrate import include_object_for, upgrade_to_head
from pyairtable_server.db.models import Model

from .backend import PostgresDatabase

pytestmark = pytest.mark.anyio


@pytest.fixture
async def fresh_url(backend: PostgresDatabase | None, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a database that has never been migrated."""
    if backend is None:
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    database = PostgresDatabase()
    await anyio.to_thread.run_sync(database.create)
    try:
        yield database.url
    finally:
        await anyio.to_thread.run_sync(database.drop)


async def test_migrated_schema_matches_the_models(fresh_url: str) -> None:
    db = Database(fresh_url)
    try:
        await upgrade_to_head(db)
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(
                        sync, opts={"include_object": include_object_for(sync.dialect.name)}
                    ),
                    Model.metadata,
                )
            )
        assert diff == []
    finally:
        await db.dispose()


async def test_racing_starters_migrate_once(fresh_url: str) -> None:
    """Several processes starting together on an empty database all come up."""
    databases = [Database(fresh_url) for _ in range(4)]
    try:
        async with anyio.create_task_group() as group:
            for db in databases:
                group.start_soon(upgrade_to_head, db)
        async with databases[0].engine.connect() as conn:
            versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        assert len(versions) == 1
    finally:
        for db in databases:
            await db.dispose()


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'wal.db'}")
    try:
        async with db.engine.connect() as conn:
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
            foreign_keys = (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one()
        assert mode == "wal"
        assert foreign_keys == 1
    finally:
        await db.dispose()


async def test_lower_folds_unicode_on_both_databases(fresh_url: str) -> None:
    """Case-insensitive text filters need a lower() that folds É as well as E."""
    db = Database(fresh_url)
    try:
        assert await db.folds_unicode_case()
    finally:
        await db.dispose()
