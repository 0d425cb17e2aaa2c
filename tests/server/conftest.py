"""Every server test runs twice: on SQLite and on PostgreSQL.

PostgreSQL is required on CI (``CI=true``): there a missing server fails the run. Locally its half
is skipped with the reason.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pyairtable_server.settings import Settings

from .backend import Api, PostgresDatabase, build_settings, postgres_reason_unavailable, running_api
from .live import Writes, spy_on_writes
from .module_backend import module_settings
from .webhook_receiver import Receiver


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> Iterator[PostgresDatabase | None]:
    """The database kind for this half of the run (a PostgreSQL database, or None for SQLite)."""
    if request.param == "sqlite":
        yield None
        return
    reason = postgres_reason_unavailable()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI requires PostgreSQL", pytrace=False)
        pytest.skip(f"{reason}; the PostgreSQL half of the suite is skipped")
    database = PostgresDatabase()
    database.create()
    try:
        yield database
    finally:
        database.drop()


@pytest.fixture
def make_settings(backend: PostgresDatabase | None, tmp_path: Path) -> Callable[..., Settings]:
    """Build test settings for this backend; the database starts empty for every test."""
    if backend is not None:
        backend.truncate()

    def build(**overrides: Any) -> Settings:
        url = backend.url if backend is not None else None
        return build_settings(url, tmp_path / "data", **overrides)

    return build


@pytest.fixture
async def api(make_settings: Callable[..., Settings]) -> AsyncIterator[Api]:
    async with running_api(make_settings()) as running:
        yield running


@pytest.fixture(scope="module")
def module_database(
    backend: PostgresDatabase | None,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[Settings]:
    """Settings on a database of the requesting module's own (see ``module_backend``)."""
    label = request.module.__name__.rsplit(".", 1)[-1]
    with module_settings(backend, tmp_path_factory, label) as settings:
        yield settings


@pytest.fixture(scope="module")
async def module_api(module_database: Settings) -> AsyncIterator[Api]:
    """One app for a whole module, for modules whose tests each sign up users of their own."""
    async with running_api(module_database) as running:
        yield running


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A local webhook receiver (a real HTTP server on a loopback port), stopped after the test."""
    with Receiver() as running:
        yield running


@pytest.fixture(params=["direct", "asgi"])
def writes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Writes:
    """WebSocket frames written straight to uvicorn's transports (what ``serve`` runs), or
    through ASGI (as under any other server); counted (``Writes``)."""
    return spy_on_writes(monkeypatch, request.param)
