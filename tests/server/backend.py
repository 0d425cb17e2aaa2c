"""Helpers to run the reference backend in-process for tests, on SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx2
from asgi_lifespan import LifespanManager

# The raw set-up client and the password are the public test plugin's.
from pyairtable_integration.testing import PASSWORD as PASSWORD
from pyairtable_integration.testing import Actor as Actor
from pyairtable_integration.testing import BackendApi, fast_backend_settings
from pyairtable_server.app import create_app
from pyairtable_server.db.models import Model
from pyairtable_server.settings import Settings

POSTGRES_ADMIN_DSN = os.environ.get(
    "PYAIRTABLE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
TEST_SECRET = "test-secret-key-" + "x" * 48
#: The server tests' name for the plugin's raw set-up client.
Api = BackendApi

# Cheap Argon2id and generous limits (the public test plugin's): tests about limits set their own.
FAST_SETTINGS: dict[str, Any] = {"secret_key": TEST_SECRET, **fast_backend_settings()}


def postgres_reason_unavailable() -> str | None:
    """None when PostgreSQL answers, else why not."""

    async def probe() -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        return f"PostgreSQL at {POSTGRES_ADMIN_DSN} is not reachable ({type(exc).__name__}: {exc})"
    return None


class PostgresDatabase:
    """A throwaway database on the local server, emptied between tests and dropped at the end."""

    def __init__(self) -> None:
        self.name = "pyairtable_test_" + secrets.token_hex(6)
        admin = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0]
        self.dsn = f"{admin}/{self.name}"
        self.url = "postgresql+asyncpg://" + self.dsn.split("://", 1)[1]

    def create(self) -> None:
        asyncio.run(self._admin(f'CREATE DATABASE "{self.name}"'))

    def drop(self) -> None:
        asyncio.run(self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))

    def truncate(self) -> None:
        """Empty every table; the event log's position row goes back to its migrated state."""
        tables = ", ".join(
            f'"{table.name}"'
            for table in Model.metadata.sorted_tables
            if table.name != "event_log_state"
        )

        async def run() -> None:
            conn = await asyncpg.connect(self.dsn)
            try:
                exists = await conn.fetchval("SELECT to_regclass('public.users') IS NOT NULL")
                if exists:
                    await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
                    await conn.execute(
                        "UPDATE event_log_state SET head_seq = 0, pruned_through = 0"
                    )
            finally:
                await conn.close()

        asyncio.run(run())

    async def _admin(self, statement: str) -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_DSN)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()


@asynccontextmanager
async def running_api(settings: Settings) -> AsyncIterator[Api]:
    """The app with its lifespan started, and a client talking to it over ASGI."""
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60):
        transport = httpx2.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx2.AsyncClient(
            transport=transport, base_url="http://testserver/api/v1"
        ) as client:
            yield Api(client, app)


def build_settings(database_url: str | None, data_dir: Path, **overrides: Any) -> Settings:
    return Settings(
        **{**FAST_SETTINGS, "database_url": database_url, "data_dir": data_dir, **overrides}
    )
