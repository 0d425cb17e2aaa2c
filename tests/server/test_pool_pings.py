"""A pooled PostgreSQL connection the server dropped while it sat idle never reaches a request:
it answers no ping when checked out, and the pool replaces it (``db.engine._ping_when_idle``)."""

from __future__ import annotations

import asyncpg
import pytest

from pyairtable_server.db import engine

from .backend import POSTGRES_ADMIN_DSN, Api

pytestmark = pytest.mark.anyio


async def _drop_connections_of(database: str) -> int:
    """Terminate every server process serving ``database``: what a restart does to them."""
    conn = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        ended = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await conn.close()
    return len(ended)


async def test_connections_dropped_while_idle_are_replaced_before_use(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = api.app.state.services.db
    if db.is_sqlite:
        pytest.skip("SQLite has no server to drop connections")
    owner = await api.actor()
    workspace = await api.workspace(owner)
    assert await _drop_connections_of(db.engine.url.database) > 0
    # Every connection counts as idle from now on (no waiting in the test).
    monkeypatch.setattr(engine, "PING_AFTER_IDLE_S", 0.0)
    for _ in range(3):  # more requests than one connection serves
        answer = await api.client.get(f"/workspaces/{workspace['id']}", headers=owner.headers)
        assert answer.status_code == 200, answer.text
    created = await api.client.post(
        "/bases", json={"workspace_id": workspace["id"], "name": "B"}, headers=owner.headers
    )
    assert created.status_code == 201, created.text
