"""Reads through the services use the cache: served without a request, stale-while-revalidate,
a SQLite level that survives a restart, and a Redis level shared by two integrations."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest

from pyairtable_integration import create_integration
from pyairtable_integration.cache import RedisCacheLevel
from pyairtable_integration.testing import PASSWORD

from .conftest import BASE_URL, Backend, IntegrationFactory, RigFactory, sign_in

pytestmark = pytest.mark.anyio


async def test_a_cached_read_sends_no_request_and_a_write_invalidates_it(
    backend: Backend, make_integration: IntegrationFactory
) -> None:
    pa = await make_integration(enable_caching=True)
    await sign_in(pa, backend)
    before = backend.count("GET", "/api/v1/workspaces")
    first = await pa.services.workspace.get_workspaces()
    again = await pa.services.workspace.get_workspaces()
    assert again == first
    assert backend.count("GET", "/api/v1/workspaces") == before + 1
    await pa.services.workspace.create_workspace(name="New")
    after = await pa.services.workspace.get_workspaces()
    assert [w.name for w in after.data] == [w.name for w in first.data] + ["New"]
    assert backend.count("GET", "/api/v1/workspaces") == before + 2
    with pa.cache.bypass():
        await pa.services.workspace.get_workspaces()
    assert backend.count("GET", "/api/v1/workspaces") == before + 3
    stats = pa.cache.manager.get_stats()
    assert stats.hits >= 1 and stats.misses >= 2


async def test_stale_while_revalidate_answers_stale_then_refreshes_in_the_background(
    backend: Backend, faulty: RigFactory
) -> None:
    rig = await faulty(enable_caching=True)
    pa = rig.pa
    profile = await pa.services.user.get_current_user()
    await pa.services.user.update_current_user(first_name="Renamed")  # invalidates
    renamed = await pa.services.user.get_current_user()
    assert renamed.first_name == "Renamed" and profile.first_name != "Renamed"
    # Someone else renames the user: the cache does not know yet.
    assert pa.auth.session is not None
    token = pa.auth.session.tokens.access_token
    response = await backend.api.client.put(
        "/users/me", json={"first_name": "Remote"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    path = "/api/v1/users/me"
    requests = backend.count("GET", path)
    assert (await pa.services.user.get_current_user()).first_name == "Renamed"  # fresh
    rig.clock.advance(16 * 60)  # past the 15 min TTL, within the 15 min SWR window
    assert (await pa.services.user.get_current_user()).first_name == "Renamed"  # stale, at once
    await pa.cache.manager.settle()
    assert backend.count("GET", path) == requests + 1
    assert (await pa.services.user.get_current_user()).first_name == "Remote"
    rig.clock.advance(31 * 60)  # beyond SWR: fetched before answering
    assert (await pa.services.user.get_current_user()).first_name == "Remote"
    assert backend.count("GET", path) == requests + 2


async def test_the_sqlite_level_survives_a_restart(backend: Backend, tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    options: dict[str, Any] = {
        "base_url": BASE_URL,
        "environ": {},
        "cache_config": {"enable_persistence": True, "persistence_path": str(path)},
    }
    first = create_integration(http_transport=backend.transport(), **options)
    email = await sign_in(first, backend)
    listed = await first.services.workspace.get_workspaces()
    await first.aclose()
    before = backend.count("GET", "/api/v1/workspaces")
    second = create_integration(http_transport=backend.transport(), **options)
    try:
        await second.auth.login(email, PASSWORD)
        assert await second.services.workspace.get_workspaces() == listed
        assert backend.count("GET", "/api/v1/workspaces") == before
    finally:
        await second.aclose()


def _redis_reason() -> str | None:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return None
    except OSError:
        return "no Redis on 127.0.0.1:6379"


async def test_a_redis_level_is_shared_by_two_integrations(backend: Backend) -> None:
    reason = _redis_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    prefix = f"pyairtable:test:{os.urandom(4).hex()}:"
    one = create_integration(
        base_url=BASE_URL,
        environ={},
        http_transport=backend.transport(),
        cache_levels=[RedisCacheLevel("redis://127.0.0.1:6379/0", prefix=prefix)],
    )
    two = create_integration(
        base_url=BASE_URL,
        environ={},
        http_transport=backend.transport(),
        cache_levels=[RedisCacheLevel("redis://127.0.0.1:6379/0", prefix=prefix)],
    )
    try:
        email = await sign_in(one, backend)
        await two.auth.login(email, PASSWORD)
        listed = await one.services.workspace.get_workspaces()
        before = backend.count("GET", "/api/v1/workspaces")
        assert await two.services.workspace.get_workspaces() == listed
        assert backend.count("GET", "/api/v1/workspaces") == before
        await two.clear_cache()
        one.cache.manager.memory.clear()  # only Redis could answer now, and it was cleared
        await one.services.workspace.get_workspaces()
        assert backend.count("GET", "/api/v1/workspaces") == before + 1
    finally:
        await one.aclose()
        await two.aclose()


async def test_every_read_counts_once_in_the_stats_whichever_level_answers(
    backend: Backend, make_integration: IntegrationFactory, tmp_path: Path
) -> None:
    """Issue 15: with every feature on, two identical record reads sent one request, yet the
    stats moved by neither the miss nor the hit. ``get_stats()`` is a still copy now, and the
    record layer, memory and the shared level all count in the one place."""
    options: dict[str, Any] = {
        "enable_caching": True,
        "cache_config": {
            "enable_persistence": True,
            "persistence_path": str(tmp_path / "cache.sqlite3"),
        },
        "features": {
            "enable_realtime": True,
            "enable_optimistic_updates": True,
            "enable_offline_support": True,
        },
        "offline_path": str(tmp_path / "outbox.sqlite3"),
    }
    pa = await make_integration(**options)
    email = await sign_in(pa, backend)
    workspace = await pa.services.workspace.create_workspace(name="Stats")
    base = await pa.services.base.create_base(workspace_id=workspace.id, name="B")
    table = await pa.services.table.create_table(
        base_id=base.id, name="T", fields=[{"name": "Name", "type": "text"}]
    )
    subscription = pa.realtime.subscribe_to_record_changes(table.id, lambda event: None)
    pa.realtime.unsubscribe(subscription)

    requests = backend.count("GET", "/api/v1/records")
    before = pa.cache.manager.get_stats()
    await pa.services.record.get_records(table.id)
    await pa.services.record.get_records(table.id)
    after = pa.cache.manager.get_stats()
    assert backend.count("GET", "/api/v1/records") == requests + 1
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)

    # Memory, then the shared SQLite level of another integration of the same user.
    await pa.services.user.get_current_user()
    middle = pa.cache.manager.get_stats()
    await pa.services.user.get_current_user()
    assert pa.cache.manager.get_stats().hits == middle.hits + 1
    other = await make_integration(**{**options, "offline_path": str(tmp_path / "o2.sqlite3")})
    await other.auth.login(email, PASSWORD)
    first = other.cache.manager.get_stats()
    await other.services.user.get_current_user()  # from the SQLite level
    second = other.cache.manager.get_stats()
    assert (second.hits - first.hits, second.misses - first.misses) == (1, 0)
