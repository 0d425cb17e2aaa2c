"""One app per test module, on a database of the module's own.

Starting the app, migrating and warming it up costs more than most tests. Modules whose tests
isolate themselves by creating fresh users (a user sees only their own workspaces and the people
in them) can share one running app: each test still creates only what it needs, and the shared
database holds other tests' users and workspaces, which the isolation rules must hide anyway.

The database is the module's own, not the session's PostgreSQL database: function-scoped tests
of other modules empty that one between tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from pyairtable_server.settings import Settings

from .backend import PostgresDatabase, build_settings


@contextmanager
def module_settings(
    backend: PostgresDatabase | None, tmp_path_factory: pytest.TempPathFactory, label: str
) -> Iterator[Settings]:
    """Test settings on a fresh SQLite file or a fresh PostgreSQL database, dropped afterwards."""
    data_dir = tmp_path_factory.mktemp(label) / "data"
    if backend is None:
        yield build_settings(None, data_dir)
        return
    database = PostgresDatabase()
    database.create()
    try:
        yield build_settings(database.url, data_dir)
    finally:
        database.drop()
