"""Bring a database to the newest schema with Alembic, safely from several processes at once."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

from .engine import Database

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# Any constant will do; it only has to be the same for every server process.
_PG_MIGRATION_LOCK = 7_242_001


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations, bound to ``connection`` if given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


async def upgrade_to_head(db: Database) -> None:
    """Apply every pending migration, one process at a time.

    PostgreSQL serialises starters with an advisory lock, SQLite with its write lock; a process
    that waited finds the schema current and does nothing.
    """
    async with db.write_engine.begin() as conn:
        if not db.is_sqlite:
            await conn.execute(text(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})"))
        await conn.run_sync(lambda sync_conn: command.upgrade(alembic_config(sync_conn), "head"))
