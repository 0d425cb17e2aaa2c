"""The blocking facade, against the real backend on a real port.

The facade runs the async core on a loop of its own, so the backend cannot live in the test's
loop: a real uvicorn serves it from a blocking portal's thread for the whole module.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio.from_thread
import pytest

from pyairtable_integration import (
    AuthenticationError,
    NotFoundError,
    SyncIntegration,
    create_integration,
)

from ..server.backend import PASSWORD, build_settings
from ..server.live import Live, live_server


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The backend under uvicorn on a free port, served from a thread of its own."""
    settings = build_settings(None, Path(tmp_path_factory.mktemp("sync")) / "data")
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(live_server(settings)) as running,
    ):
        yield running


@pytest.fixture
def base_url(live: Live) -> str:
    return f"{live.origin}/api/v1"


@pytest.fixture
def pa(base_url: str) -> Iterator[SyncIntegration]:
    """A blocking integration signed in as a fresh user (registered through the facade)."""
    with SyncIntegration.create(base_url=base_url, retry_delay=0, environ={}) as integration:
        email = f"sync-{secrets.token_hex(4)}@example.com"
        integration.services.auth.register(
            email=email, password=PASSWORD, first_name="Sync", last_name="User"
        )
        integration.auth.login(email, PASSWORD)
        yield integration


def test_signed_in_calls_block_and_return_typed_models(pa: SyncIntegration) -> None:
    assert pa.auth.is_authenticated
    created = pa.services.workspace.create_workspace(name="Ops", description="blocking")
    assert created.name == "Ops"
    page = pa.services.workspace.get_workspaces()
    assert [workspace.id for workspace in page.data] == [created.id]
    assert page.pagination.total == 1
    assert pa.services.workspace.get_workspace(created.id).description == "blocking"
    assert pa.auth.can("workspace:delete", workspace_id=created.id)


def test_iterators_are_plain_and_fetch_pages_lazily(pa: SyncIntegration) -> None:
    names = [f"W{i}" for i in range(5)]
    for name in names:
        pa.services.workspace.create_workspace(name=name)
    before = pa.get_metrics()["workspace"].requests

    workspaces = pa.services.workspace.iter_workspaces(per_page=2)
    assert pa.get_metrics()["workspace"].requests == before  # nothing fetched yet
    assert next(workspaces).name == "W0"
    assert pa.get_metrics()["workspace"].requests == before + 1  # one page
    assert [workspace.name for workspace in workspaces] == names[1:]
    assert pa.get_metrics()["workspace"].requests == before + 3  # three pages of two


def test_an_iterator_left_early_is_closed_and_the_integration_goes_on(
    pa: SyncIntegration,
) -> None:
    for name in ("A", "B", "C"):
        pa.services.workspace.create_workspace(name=name)
    for workspace in pa.services.workspace.iter_workspaces(per_page=1):
        assert workspace.name == "A"
        break
    assert pa.services.workspace.get_workspaces().pagination.total == 3


def test_errors_are_the_typed_errors_of_the_async_api(pa: SyncIntegration, base_url: str) -> None:
    with pytest.raises(NotFoundError) as caught:
        pa.services.workspace.get_workspace("wsp" + "0" * 16)
    assert caught.value.code == 404
    assert caught.value.request_id

    with SyncIntegration.create(base_url=base_url, environ={}) as other:
        with pytest.raises(AuthenticationError):
            other.auth.login("nobody@example.com", "wrong password")
        assert not other.auth.is_authenticated


def test_health_status_and_metrics_are_reported(pa: SyncIntegration) -> None:
    health = pa.check_health()
    assert health.status == "ok"
    statuses = pa.get_service_health()
    assert {"auth", "workspace", "record"} <= set(statuses)
    assert statuses["auth"].backend_status == "ok"
    assert statuses["auth"].breaker == "closed"
    assert pa.get_connection_status().state == "online"
    assert pa.get_metrics()["auth"].requests >= 2  # register and login


def test_sync_of_a_fresh_integration_and_close_ends_its_thread(base_url: str) -> None:
    before = set(threading.enumerate())
    pa = create_integration(base_url=base_url, environ={}).sync()
    started = set(threading.enumerate()) - before
    assert len(started) == 1
    assert all(thread.is_alive() for thread in started)
    assert pa.check_health().status == "ok"

    pa.close()
    assert pa.closed
    assert not any(thread.is_alive() for thread in started)
    assert set(threading.enumerate()) <= before
    with pytest.raises(RuntimeError, match="closed"):
        pa.services.workspace.get_workspaces()
    with pytest.raises(RuntimeError, match="closed"):
        pa.get_metrics()
    pa.close()  # a second close does nothing


def test_leaving_the_with_block_ends_the_thread(base_url: str) -> None:
    before = set(threading.enumerate())
    with SyncIntegration.create(base_url=base_url, environ={}) as pa:
        started = set(threading.enumerate()) - before
        assert started
        pa.check_health()
    assert not any(thread.is_alive() for thread in started)


def test_a_started_integration_cannot_be_wrapped(base_url: str) -> None:
    async def started() -> None:
        async with create_integration(base_url=base_url, environ={}) as integration:
            with pytest.raises(RuntimeError, match="never started"):
                SyncIntegration(integration)

    # The refusal comes before any loop check: the integration is started in this loop.
    asyncio.run(started())


def test_calling_from_inside_an_event_loop_raises_instead_of_blocking_it(
    pa: SyncIntegration, base_url: str
) -> None:
    async def inside() -> None:
        with pytest.raises(RuntimeError, match="async API"):
            pa.services.workspace.get_workspaces()
        with pytest.raises(RuntimeError, match="async API"):
            pa.services.workspace.iter_workspaces()
        with pytest.raises(RuntimeError, match="async API"):
            pa.auth.login("a@example.com", "password")
        with pytest.raises(RuntimeError, match="async API"):
            pa.get_connection_status()
        with pytest.raises(RuntimeError, match="async API"):
            SyncIntegration.create(base_url=base_url, environ={})

    asyncio.run(inside())
    assert pa.services.workspace.get_workspaces().pagination.total == 0  # still usable outside
