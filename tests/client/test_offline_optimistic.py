"""Offline writes are shown at once: each outbox entry is an optimistic layer in the record cache
until it is sent (confirmed with the backend's answer), refused (rolled back) or dropped on a
conflict (the server's record adopted); after a restart the outbox shows its unsent writes again.
Against the real backend in-process; "offline" is a fault at the transport seam."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pyairtable_integration import (
    FileTokenStore,
    InvalidRequestError,
    OfflineError,
    PyAirtableIntegration,
    create_integration,
)
from pyairtable_integration.offline import OutboxEntry
from pyairtable_integration.optimistic import UpdateEvent, is_temporary_id
from pyairtable_integration.testing import Actor, FaultTransport, connect_error
from pyairtable_integration.types import Record

from .conftest import BASE_URL, Backend, Rig, RigFactory, sign_in

pytestmark = pytest.mark.anyio


async def _rig(faulty: RigFactory, tmp_path: Path) -> Rig:
    rig = await faulty(
        features={"enable_offline_support": True},
        offline_path=str(tmp_path / "outbox.sqlite3"),
        enable_caching=True,
        retry_attempts=0,
        breaker_failure_threshold=100,
    )
    await rig.pa.offline.open()
    return rig


async def _table(pa: PyAirtableIntegration) -> tuple[str, str]:
    """A new table with Name and Count; its id and its workspace's id."""
    workspace = await pa.services.workspace.create_workspace(name="Offline view")
    base = await pa.services.base.create_base(workspace_id=workspace.id, name="B")
    table = await pa.services.table.create_table(
        base_id=base.id,
        name="Notes",
        fields=[{"name": "Name", "type": "text"}, {"name": "Count", "type": "number"}],
    )
    return table.id, workspace.id


async def _listed(pa: PyAirtableIntegration, table_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The table's records as the app reads them (from the cache when it holds the list)."""
    page = await pa.services.record.get_records(table_id)
    return [(record.id, dict(record.fields)) for record in page.data]


def _layer(pa: PyAirtableIntegration, entry: OutboxEntry) -> str:
    """The record id the entry's optimistic update shows."""
    assert entry.update_id is not None
    return pa.optimistic.get_pending_update(entry.update_id).record_id


async def _editor(backend: Backend, pa: PyAirtableIntegration, workspace_id: str) -> Actor:
    other = await backend.user()
    await pa.services.workspace.add_workspace_member(workspace_id, user_id=other.id, role="editor")
    return other


async def _their_change(
    backend: Backend, other: Actor, record_id: str, fields: dict[str, Any]
) -> Record:
    response = await backend.api.client.patch(
        f"/records/{record_id}", json={"fields": fields}, headers=other.headers
    )
    assert response.status_code == 200, response.text
    return Record.model_validate(response.json())


async def test_a_queued_create_shows_at_once_under_a_temporary_id_then_becomes_the_real_record(
    faulty: RigFactory, tmp_path: Path
) -> None:
    rig = await _rig(faulty, tmp_path)
    pa = rig.pa
    table_id, _ = await _table(pa)
    first = await pa.services.record.create_record(table_id, {"Name": "first", "Count": 1})
    assert await _listed(pa, table_id) == [(first.id, {"Name": "first", "Count": 1})]

    rig.clock.advance(60)  # the fake clock stands still: the second write comes later
    rig.faults.add(connect_error(), method="POST", path="/records")
    with pytest.raises(OfflineError) as caught:
        await pa.offline.create_record(table_id, {"Name": "queued", "Count": 2})
    (entry,) = pa.offline.pending()
    assert entry.id == caught.value.entry_id
    temp_id = _layer(pa, entry)
    assert is_temporary_id(temp_id)
    shown = pa.cache.records.get(temp_id)
    assert shown is not None and shown.fields == {"Name": "queued", "Count": 2}
    asked = len(rig.faults.requests)
    assert await _listed(pa, table_id) == [
        (first.id, {"Name": "first", "Count": 1}),
        (temp_id, {"Name": "queued", "Count": 2}),
    ]
    assert len(rig.faults.requests) == asked  # the list came from the cache, with the layer

    result = await pa.offline.sync()
    assert (result.sent, result.pending) == (1, 0)
    (done,) = [e for e in await pa.offline.entries() if e.id == entry.id]
    real_id = done.result["id"]
    assert not is_temporary_id(real_id)
    assert pa.cache.records.get(temp_id) is None
    assert pa.cache.records.pending_updates(temp_id) == []
    assert pa.optimistic.get_pending_updates() == []
    real = pa.cache.records.get(real_id)
    assert real is not None and (real.version, real.fields["Name"]) == (1, "queued")
    assert await _listed(pa, table_id) == [
        (first.id, {"Name": "first", "Count": 1}),
        (real_id, {"Name": "queued", "Count": 2}),
    ]
    assert len(rig.faults.seen("GET", "/records")) == 1  # still served from the cache


async def test_a_queued_update_shows_at_once_and_stays_over_newer_server_news_until_sent(
    faulty: RigFactory, tmp_path: Path, backend: Backend
) -> None:
    rig = await _rig(faulty, tmp_path)
    pa = rig.pa
    table_id, workspace_id = await _table(pa)
    record = await pa.services.record.create_record(table_id, {"Name": "r", "Count": 0})
    other = await _editor(backend, pa, workspace_id)
    await _listed(pa, table_id)

    rig.faults.add(connect_error(), method="PATCH", path="/records/*")
    with pytest.raises(OfflineError):
        await pa.offline.update_record(record.id, {"Count": 5})
    (entry,) = pa.offline.pending()
    assert _layer(pa, entry) == record.id
    assert entry.arguments["table_id"] == table_id  # kept, to show it again after a restart
    shown = pa.cache.records.get(record.id)
    assert shown is not None and shown.fields == {"Name": "r", "Count": 5}

    # Someone else renames it; the cache hears the server's newer version (as from an event).
    theirs = await _their_change(backend, other, record.id, {"Name": "theirs"})
    pa.cache.records.put_server(theirs)
    shown = pa.cache.records.get(record.id)
    assert shown is not None and shown.fields == {"Name": "theirs", "Count": 5}
    assert await _listed(pa, table_id) == [(record.id, {"Name": "theirs", "Count": 5})]
    assert pa.offline.pending_count == 1

    confirmed: list[UpdateEvent] = []
    pa.optimistic.on_update(confirmed.append)
    assert (await pa.offline.sync()).sent == 1
    assert [(e.outcome, e.update.update_id) for e in confirmed] == [("confirmed", entry.update_id)]
    view = pa.cache.records.get(record.id)
    assert view is not None and (view.version, view.fields) == (3, {"Name": "theirs", "Count": 5})
    assert pa.cache.records.pending_updates(record.id) == []


async def test_a_write_dropped_by_a_conflict_rolls_back_to_the_servers_record(
    faulty: RigFactory, tmp_path: Path, backend: Backend
) -> None:
    rig = await _rig(faulty, tmp_path)
    pa = rig.pa
    table_id, workspace_id = await _table(pa)
    record = await pa.services.record.create_record(table_id, {"Name": "mine", "Count": 0})
    other = await _editor(backend, pa, workspace_id)
    await _listed(pa, table_id)
    entry = await pa.offline.enqueue(
        "update_record", {"record_id": record.id, "fields": {"Count": 1}, "expected_version": 1}
    )
    shown = pa.cache.records.get(record.id)
    assert shown is not None and shown.fields["Count"] == 1
    theirs = await _their_change(backend, other, record.id, {"Count": 99})
    events: list[UpdateEvent] = []
    pa.optimistic.on_update(events.append)

    result = await pa.offline.sync()
    assert (result.sent, result.dropped) == (0, 1)
    (event,) = events
    assert (event.outcome, event.update.update_id) == ("conflict", entry.update_id)
    assert event.resolution is not None and event.resolution.action == "adopt_server"
    assert event.record == theirs
    view = pa.cache.records.get(record.id)
    assert view is not None and (view.version, view.fields) == (2, {"Name": "mine", "Count": 99})
    assert await _listed(pa, table_id) == [(record.id, {"Name": "mine", "Count": 99})]
    assert pa.optimistic.get_pending_updates() == []


async def test_a_refused_write_is_rolled_back_and_the_temporary_record_leaves_the_list(
    faulty: RigFactory, tmp_path: Path
) -> None:
    rig = await _rig(faulty, tmp_path)
    pa = rig.pa
    table_id, _ = await _table(pa)
    assert await _listed(pa, table_id) == []
    entry = await pa.offline.enqueue(
        "create_record", {"table_id": table_id, "fields": {"Count": "not a number"}}
    )
    temp_id = _layer(pa, entry)
    assert [record_id for record_id, _ in await _listed(pa, table_id)] == [temp_id]
    events: list[UpdateEvent] = []
    pa.optimistic.on_update(events.append)

    result = await pa.offline.sync()
    assert (result.failed, result.pending) == (1, 0)
    (event,) = events
    assert event.outcome == "rolled_back"
    assert isinstance(event.error, InvalidRequestError)
    assert pa.cache.records.get(temp_id) is None
    assert await _listed(pa, table_id) == []


async def test_a_batch_create_shows_each_record_and_each_becomes_its_real_record(
    faulty: RigFactory, tmp_path: Path
) -> None:
    rig = await _rig(faulty, tmp_path)
    pa = rig.pa
    table_id, _ = await _table(pa)
    await _listed(pa, table_id)
    await pa.offline.enqueue(
        "create_records", {"table_id": table_id, "records": [{"Name": "x"}, {"Name": "y"}]}
    )
    listed = await _listed(pa, table_id)
    assert [fields for _, fields in listed] == [{"Name": "x"}, {"Name": "y"}]
    assert all(is_temporary_id(record_id) for record_id, _ in listed)

    await pa.offline.sync()
    listed_after = await _listed(pa, table_id)
    assert [fields["Name"] for _, fields in listed_after] == ["x", "y"]
    assert not any(is_temporary_id(record_id) for record_id, _ in listed_after)
    assert pa.optimistic.get_pending_updates() == []


async def test_reopening_an_outbox_with_pending_writes_shows_them_again(
    backend: Backend, tmp_path: Path
) -> None:
    """A second process (same outbox file, same saved session) shows the first one's unsent
    create and update before anything is sent, then replaces them with the server's records."""
    options: dict[str, Any] = {
        "base_url": BASE_URL,
        "environ": {},
        "retry_delay": 0,
        "enable_caching": True,
        "features": {"enable_offline_support": True, "enable_realtime": False},
        "offline_path": str(tmp_path / "outbox.sqlite3"),
    }
    tokens = tmp_path / "session.json"
    first = create_integration(
        token_store=FileTokenStore(tokens),
        http_transport=FaultTransport(backend.transport()),
        **options,
    )
    try:
        await first.offline.open()  # not initialized: no background replay in this process
        await sign_in(first, backend)
        table_id, _ = await _table(first)
        record = await first.services.record.create_record(table_id, {"Name": "old", "Count": 0})
        await first.offline.enqueue(
            "create_record", {"table_id": table_id, "fields": {"Name": "new", "Count": 1}}
        )
        update = await first.offline.enqueue(
            "update_record", {"record_id": record.id, "fields": {"Count": 7}}
        )
        assert update.arguments["table_id"] == table_id
    finally:
        await first.aclose()

    faults = FaultTransport(backend.transport())
    # The backend is out of reach when the second process starts: nothing can be sent yet.
    faults.add(connect_error(), method="POST", path="/records", times=None)
    faults.add(connect_error(), method="PATCH", path="/records/*", times=None)
    faults.add(connect_error(), method="GET", path="/health", times=None)
    second = create_integration(
        token_store=FileTokenStore(tokens), http_transport=faults, **options
    )
    try:
        await second.initialize()
        created, updated = second.offline.pending()
        temp_id = _layer(second, created)
        assert is_temporary_id(temp_id)
        assert _layer(second, updated) == record.id
        assert {e.update_id for e in await second.offline.entries()} == {
            created.update_id,
            updated.update_id,
        }
        shown = second.cache.records.get(temp_id)
        assert shown is not None and shown.fields == {"Name": "new", "Count": 1}
        # The record itself is read anew after the restart; the pending update lies over it.
        assert await _listed(second, table_id) == [
            (record.id, {"Name": "old", "Count": 7}),
            (temp_id, {"Name": "new", "Count": 1}),
        ]

        faults.clear()
        result = await second.offline.sync()
        # Sent by this sync or, once a read has found the backend again, by the background drain
        # (the integration is online from then): either way each exactly once, as listed below.
        assert result.pending == 0
        assert second.offline.pending() == []
        listed = await _listed(second, table_id)
        assert [fields for _, fields in listed] == [
            {"Name": "old", "Count": 7},
            {"Name": "new", "Count": 1},
        ]
        assert not any(is_temporary_id(record_id) for record_id, _ in listed)
        assert second.optimistic.get_pending_updates() == []
    finally:
        await second.aclose()


async def test_the_previous_users_pending_writes_leave_the_view_when_another_signs_in(
    faulty: RigFactory, tmp_path: Path, backend: Backend
) -> None:
    rig = await _rig(faulty, tmp_path)
    pa = rig.pa
    table_id, _ = await _table(pa)
    entry = await pa.offline.enqueue(
        "create_record", {"table_id": table_id, "fields": {"Name": "theirs"}}
    )
    temp_id = _layer(pa, entry)
    assert pa.cache.records.get(temp_id) is not None

    await sign_in(pa, backend)
    assert pa.cache.records.get(temp_id) is None
    assert pa.optimistic.get_pending_updates() == []
    assert pa.offline.pending() == []
