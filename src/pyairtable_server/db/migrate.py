"""Bring a database to the newest schema with Alembic, safely from several processes at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

from .engine import Database

FIELD_INDEX_PREFIX = "ix_rec_fld"
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# Any constant will do; it only has to be the same for every server process.
_PG_MIGRATION_LOCK = 7_242_001


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations, bound to ``connection`` if given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def include_object_for(dialect: str) -> Callable[..., bool]:
    """An Alembic ``include_object`` hook that skips schema objects meant for another dialect.

    Such objects are declared with ``.ddl_if(dialect=...)`` (the GIN index exists only on
    PostgreSQL), which ``create_all`` honours and autogenerate comparison does not.
    """

    def include_object(obj: Any, name: str | None, type_: str, *_args: Any) -> bool:
        if type_ == "index" and (name or "").startswith(FIELD_INDEX_PREFIX):
            return False  # one per indexed field, made at run time (``data/indexes.py``)
        condition = getattr(obj, "_ddl_if", None)
        return condition is None or condition.dialect in (None, dialect)

    return include_object


async def upgrade_to_head(db: Database) -> None:
    """Apply every pending migration, one process at a time.

    PostgreSQL serialises starters with an advisory lock, SQLite with its write lock; a process
    that waited finds the schema current and does nothing.
    """
    async with db.write_engine.begin() as conn:
        if not db.is_sqlite:
            await conn.execute(text(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})"))
        await conn.run_sync(lambda sync_conn: command.upgrade(alembic_config(sync_conn), "head"))
