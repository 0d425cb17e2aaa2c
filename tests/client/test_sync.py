"""The blocking facade, against the real backend on a real port.

The facade runs the async core on a loop of its own, so the backend cannot live in the test's
loop: a real uvicorn serves it from a blocking portal's thread for the whole module.
"""

from __future__ import annotations

import asyncio
import queue
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio.from_thread
import pytest
from anyio.from_thread import BlockingPortal

from pyairtable_integration import (
    AuthenticationError,
    NotFoundError,
    OfflineError,
    SyncIntegration,
    create_integration,
)
from pyairtable_integration.sync import THREAD_NAME
from pyairtable_integration.testing import PASSWORD, LiveBackend, TcpProxy, live_backend, tcp_proxy
from pyairtable_integration.types import Event, Table

HANG = 60.0  # seconds: a guard against a hang, never a measure


@pytest.fixture(scope="module")
def portal() -> Iterator[BlockingPortal]:
    """An event loop in a thread of its own, for the servers the blocking tests talk to."""
    with anyio.from_thread.start_blocking_portal() as running:
        yield running


@pytest.fixture(scope="module")
def live(portal: BlockingPortal, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveBackend]:
    """The backend under uvicorn on a free port, served from the portal's thread."""
    data_dir = Path(tmp_path_factory.mktemp("sync")) / "data"
    with portal.wrap_async_context_manager(live_backend(data_dir)) as running:
        yield running


@pytest.fixture
def base_url(live: LiveBackend) -> str:
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


def _table(pa: SyncIntegration) -> Table:
    workspace = pa.services.workspace.create_workspace(name="Blocking")
    base = pa.services.base.create_base(workspace_id=workspace.id, name="B")
    table: Table = pa.services.table.create_table(base_id=base.id, name="T")
    return table


def _record_requests(pa: SyncIntegration) -> int:
    metrics = pa.get_metrics().get("record")
    return 0 if metrics is None else metrics.requests


def test_mutate_writes_through_the_facade_and_leaves_nothing_pending(pa: SyncIntegration) -> None:
    table = _table(pa)
    created = pa.mutate.create_record(table.id, {"Name": "draft"})
    assert created.applied
    assert created.update_id is not None  # shown optimistically, then confirmed
    record = created.record
    assert record is not None  # the facade is typed now: a result's record may be None
    assert record.fields["Name"] == "draft"

    updated = pa.mutate.update_record(record.id, {"Name": "final"})
    assert updated.applied
    assert updated.record is not None and updated.record.version == record.version + 1
    assert pa.optimistic.get_pending_updates() == []

    pa.clear_cache()
    before = _record_requests(pa)
    assert pa.services.record.get_record(record.id).fields["Name"] == "final"
    assert _record_requests(pa) == before + 1  # the server's copy, not the cache's

    deleted = pa.mutate.delete_record(record.id)
    assert deleted.applied
    assert deleted.record is None
    with pytest.raises(NotFoundError):
        pa.services.record.get_record(record.id)


def test_cached_reads_are_counted_and_invalidating_a_table_sends_the_next_to_the_network(
    pa: SyncIntegration,
) -> None:
    table = _table(pa)
    other = pa.services.table.create_table(
        base_id=pa.services.table.get_table(table.id).base_id, name="Other"
    )
    for name in ("a", "b"):
        pa.services.record.create_record(table.id, {"Name": name})
    pa.services.record.create_record(other.id, {"Name": "x"})

    first = pa.services.record.get_records(table.id)
    pa.services.record.get_records(other.id)
    before, stats = _record_requests(pa), pa.get_cache_stats()
    again = pa.services.record.get_records(table.id)
    assert [r.id for r in again.data] == [r.id for r in first.data]
    assert _record_requests(pa) == before  # answered from the cache
    assert pa.get_cache_stats().hits == stats.hits + 1

    pa.invalidate_cache(f"records:{table.id}:")
    assert [r.fields["Name"] for r in pa.services.record.get_records(table.id).data] == ["a", "b"]
    assert _record_requests(pa) == before + 1  # this table's list was dropped...
    pa.services.record.get_records(other.id)
    assert _record_requests(pa) == before + 1  # ...the other table's was not

    pa.clear_cache()
    pa.services.record.get_records(other.id)
    assert _record_requests(pa) == before + 2


def test_the_stats_are_a_copy_taken_when_asked(pa: SyncIntegration) -> None:
    table = _table(pa)
    stats = pa.get_cache_stats()
    pa.services.record.get_records(table.id)
    assert pa.get_cache_stats().misses == stats.misses + 1
    assert stats.misses == pa.get_cache_stats().misses - 1  # the earlier copy did not move


@pytest.fixture
def proxy(portal: BlockingPortal, live: LiveBackend) -> Iterator[TcpProxy]:
    """A TCP proxy in front of the backend; cut and restore it with ``portal.call``."""
    with portal.wrap_async_context_manager(tcp_proxy("127.0.0.1", live.port)) as running:
        yield running


def test_offline_writes_wait_in_the_outbox_until_sync_sends_them(
    portal: BlockingPortal, live: LiveBackend, proxy: TcpProxy, tmp_path: Path
) -> None:
    with SyncIntegration.create(
        base_url=f"http://127.0.0.1:{proxy.port}/api/v1",
        environ={},
        retry_attempts=1,
        retry_delay=0,
        features={"enable_offline_support": True, "enable_realtime": False},
        offline_path=str(tmp_path / "outbox.sqlite3"),
    ) as pa:
        email = f"sync-offline-{secrets.token_hex(4)}@example.com"
        pa.services.auth.register(email=email, password=PASSWORD, first_name="O", last_name="F")
        pa.auth.login(email, PASSWORD)
        table = _table(pa)
        assert pa.offline.enabled
        with pytest.raises(AttributeError):
            # The integration drives the replay, not the caller (mypy knows: no such attribute).
            pa.offline.run  # type: ignore[attr-defined]  # noqa: B018
        assert pa.offline.create_record(table.id, {"Name": "online"}).fields["Name"] == "online"
        assert pa.offline.pending_count == 0

        portal.call(proxy.cut)
        entry_ids = []
        for name in ("a", "b"):
            with pytest.raises(OfflineError) as caught:
                pa.offline.create_record(table.id, {"Name": name})
            entry_ids.append(caught.value.entry_id)
        assert pa.offline.pending_count == 2
        assert [entry.id for entry in pa.offline.pending()] == entry_ids

        portal.call(proxy.restore)
        # The background replay may send some first; either way each is sent exactly once.
        result = pa.offline.sync()
        assert result.pending == 0
        assert pa.offline.pending_count == 0
        pa.clear_cache()
        names = [r.fields["Name"] for r in pa.services.record.get_records(table.id).data]
        assert sorted(names) == ["a", "b", "online"]


def test_record_changes_reach_a_facade_subscription_on_the_loop_thread(
    pa: SyncIntegration,
) -> None:
    table = _table(pa)
    received: queue.Queue[tuple[Event, str]] = queue.Queue()

    def seen(event: Event) -> None:
        received.put((event, threading.current_thread().name))

    subscription = pa.realtime.subscribe_to_record_changes(table.id, seen)
    pa.realtime.wait_ready(subscription, timeout=HANG)
    record = pa.services.record.create_record(table.id, {"Name": "live"})

    event, thread = received.get(timeout=HANG)
    assert event.type == "record.created"
    assert event.aggregate_id == record.id
    assert thread == THREAD_NAME

    pa.realtime.unsubscribe(subscription)
    assert not subscription.active
    pa.realtime.unsubscribe(subscription)  # a second time does nothing
    later: queue.Queue[Event] = queue.Queue()
    pa.realtime.wait_ready(
        pa.realtime.subscribe_to_record_changes(table.id, later.put), timeout=HANG
    )
    unheard = pa.services.record.create_record(table.id, {"Name": "unheard"})
    assert later.get(timeout=HANG).aggregate_id == unheard.id
    assert received.empty()


def test_the_blocking_realtime_client_disconnects_connects_and_shows_its_state(
    pa: SyncIntegration,
) -> None:
    """``pa.realtime`` of the facade is the generated twin of ``RealtimeClient``: its state,
    ``disconnect`` and ``connect`` block and are typed like the async ones."""
    table = _table(pa)
    statuses: queue.Queue[str] = queue.Queue()
    stop = pa.realtime.on_state_change(lambda state: statuses.put(state.status))
    subscription = pa.realtime.subscribe("record", {"table_id": table.id}, lambda _event: None)
    pa.realtime.wait_ready(subscription, timeout=HANG)
    assert pa.realtime.enabled
    assert pa.realtime.state.live

    pa.realtime.disconnect()
    assert pa.realtime.state.status == "closed"
    before: list[str] = []
    while not statuses.empty():
        before.append(statuses.get())
    assert before[-1] == "closed"
    pa.realtime.connect()
    while statuses.get(timeout=HANG) != "connected":
        pass
    stop()
    pa.realtime.unsubscribe(subscription)
    assert not subscription.active
