"""The offline outbox against the real backend (in-process), faults at the transport seam:
writes are recorded before they are sent, kept when no answer comes, replayed in order with
their own key, and conflicts on replay go through the strategy."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from pyairtable_integration import (
    ConflictError,
    InvalidRequestError,
    NetworkError,
    OfflineError,
    PyAirtableIntegration,
    create_integration,
)
from pyairtable_integration.offline import (
    ConflictResolution,
    OutboxCorruptError,
    OutboxEntry,
    OutboxEvent,
    client_wins,
)
from pyairtable_integration.testing import PASSWORD, FaultTransport, connect_error, reset, status

from .conftest import BASE_URL, Backend, IntegrationFactory, Rig, RigFactory, sign_in

pytestmark = pytest.mark.anyio


async def _table(pa: PyAirtableIntegration) -> str:
    workspace = await pa.services.workspace.create_workspace(name="Offline")
    base = await pa.services.base.create_base(workspace_id=workspace.id, name="B")
    table = await pa.services.table.create_table(
        base_id=base.id,
        name="Notes",
        fields=[{"name": "Name", "type": "text"}, {"name": "Count", "type": "number"}],
    )
    return table.id


async def _offline_rig(faulty: RigFactory, tmp_path: Path) -> Rig:
    return await faulty(
        features={"enable_offline_support": True},
        offline_path=str(tmp_path / "outbox.sqlite3"),
        retry_attempts=0,
        breaker_failure_threshold=100,
    )


async def _names(pa: PyAirtableIntegration, table_id: str) -> list[str]:
    return [r.fields["Name"] async for r in pa.services.record.iter_records(table_id)]


async def test_a_write_that_gets_an_answer_is_recorded_then_marked_done(
    faulty: RigFactory, tmp_path: Path
) -> None:
    rig = await _offline_rig(faulty, tmp_path)
    await rig.pa.offline.open()
    table_id = await _table(rig.pa)
    created = await rig.pa.offline.create_record(table_id, {"Name": "a", "Count": 1})
    updated = await rig.pa.offline.update_record(created.id, {"Count": 2}, expected_version=1)
    assert (updated.version, updated.fields["Count"]) == (2, 2)
    await rig.pa.offline.delete_record(created.id)
    entries = await rig.pa.offline.entries()
    assert [(e.operation, e.state, e.attempts) for e in entries] == [
        ("create_record", "done", 1),
        ("update_record", "done", 1),
        ("delete_record", "done", 1),
    ]
    assert entries[0].result["id"] == created.id
    assert rig.pa.offline.pending() == []
    sent = rig.faults.seen("POST", "/records") + rig.faults.seen("PATCH", "/records/*")
    assert [seen.idempotency_key for seen in sent] == [e.idempotency_key for e in entries[:2]]


async def test_no_answer_keeps_the_write_and_raises_offline_error_naming_the_entry(
    faulty: RigFactory, tmp_path: Path
) -> None:
    rig = await _offline_rig(faulty, tmp_path)
    await rig.pa.offline.open()
    table_id = await _table(rig.pa)
    events: list[OutboxEvent] = []
    rig.pa.offline.on_change(events.append)

    rig.faults.add(connect_error(), method="POST", path="/records")
    with pytest.raises(OfflineError) as caught:
        await rig.pa.offline.create_record(table_id, {"Name": "first"})
    assert caught.value.type == "OFFLINE"
    assert isinstance(caught.value.__cause__, NetworkError)
    assert not rig.pa.offline.connectivity.online
    # Offline means paused: later writes are queued at once, nothing is sent.
    sent_before = len(rig.faults.requests)
    with pytest.raises(OfflineError) as second:
        await rig.pa.offline.create_record(table_id, {"Name": "second"})
    assert len(rig.faults.requests) == sent_before
    pending = rig.pa.offline.pending()
    assert [e.id for e in pending] == [caught.value.entry_id, second.value.entry_id]
    assert [(e.kind, e.pending) for e in events] == [("queued", 1), ("queued", 2)]

    result = await rig.pa.offline.sync()
    assert (result.sent, result.pending, result.stopped_by) == (2, 0, None)
    assert rig.pa.offline.connectivity.online
    assert await _names(rig.pa, table_id) == ["first", "second"]
    assert [(e.kind, e.pending) for e in events[2:]] == [("sent", 1), ("sent", 0)]


async def test_a_write_applied_whose_answer_was_lost_is_applied_once_on_replay(
    faulty: RigFactory, tmp_path: Path
) -> None:
    rig = await _offline_rig(faulty, tmp_path)
    await rig.pa.offline.open()
    table_id = await _table(rig.pa)
    rig.faults.add(reset(), method="POST", path="/records")  # the backend did it; answer lost
    with pytest.raises(OfflineError):
        await rig.pa.offline.create_record(table_id, {"Name": "once"})
    result = await rig.pa.offline.sync()
    assert result.sent == 1
    attempts = rig.faults.seen("POST", "/records")
    assert len({seen.idempotency_key for seen in attempts}) == 1
    assert attempts[-1].response_headers.get("Idempotent-Replayed") == "true"
    assert await _names(rig.pa, table_id) == ["once"]


async def test_a_503_keeps_the_write_and_later_writes_wait_behind_it_in_order(
    faulty: RigFactory, tmp_path: Path
) -> None:
    rig = await _offline_rig(faulty, tmp_path)
    await rig.pa.offline.open()
    table_id = await _table(rig.pa)
    first = await rig.pa.offline.create_record(table_id, {"Name": "r", "Count": 0})
    rig.faults.add(status(503), method="PATCH", path="/records/*")
    with pytest.raises(OfflineError):
        await rig.pa.offline.update_record(first.id, {"Count": 1})
    # 503 is an answer: the connection is not offline, so the next write tries, and must send
    # the waiting update first so the record's writes never reorder.
    updated = await rig.pa.offline.update_record(first.id, {"Count": 2})
    assert updated.fields["Count"] == 2
    assert updated.version == 3
    patches = rig.faults.seen("PATCH", "/records/*")
    assert [p.status for p in patches] == [503, 200, 200]


async def test_enqueue_records_without_sending_and_sync_replays_in_order(
    faulty: RigFactory, tmp_path: Path
) -> None:
    rig = await _offline_rig(faulty, tmp_path)
    await rig.pa.offline.open()
    table_id = await _table(rig.pa)
    record = await rig.pa.services.record.create_record(table_id, {"Name": "x", "Count": 0})
    sent_before = len(rig.faults.requests)
    for count in range(1, 6):
        await rig.pa.offline.enqueue(
            "update_record", {"record_id": record.id, "fields": {"Count": count}}
        )
    await rig.pa.offline.enqueue(
        "create_records", {"table_id": table_id, "records": [{"Name": "y"}, {"Name": "z"}]}
    )
    assert len(rig.faults.requests) == sent_before
    assert rig.pa.offline.pending_count == 6
    result = await rig.pa.offline.sync()
    assert (result.sent, result.pending) == (6, 0)
    current = await rig.pa.services.record.get_record(record.id)
    assert (current.fields["Count"], current.version) == (5, 6)
    assert await _names(rig.pa, table_id) == ["x", "y", "z"]


async def test_a_conflict_on_replay_is_dropped_by_default_and_reported(
    faulty: RigFactory, tmp_path: Path, backend: Backend
) -> None:
    rig = await _offline_rig(faulty, tmp_path)
    await rig.pa.offline.open()
    table_id = await _table(rig.pa)
    record = await rig.pa.services.record.create_record(table_id, {"Name": "mine", "Count": 0})
    entry = await rig.pa.offline.enqueue(
        "update_record",
        {"record_id": record.id, "fields": {"Count": 1}, "expected_version": 1},
    )
    # Someone else changes the record before the queued write is replayed.
    await rig.pa.services.record.update_record(record.id, {"Count": 99})
    later = await rig.pa.offline.enqueue(
        "update_record", {"record_id": record.id, "fields": {"Name": "renamed"}}
    )
    events: list[OutboxEvent] = []
    rig.pa.offline.on_change(events.append)

    result = await rig.pa.offline.sync()
    assert (result.sent, result.dropped, result.pending) == (1, 1, 0)
    dropped = events[0]
    assert (dropped.kind, dropped.entry.id) == ("dropped", entry.id)
    assert isinstance(dropped.error, ConflictError)
    assert dropped.error.current is not None and dropped.error.current["version"] == 2
    current = await rig.pa.services.record.get_record(record.id)
    assert current.fields == {"Name": "renamed", "Count": 99}
    stored = {e.id: e for e in await rig.pa.offline.entries()}
    assert stored[entry.id].state == "failed"
    assert "CONFLICT" in str(stored[entry.id].error)
    assert stored[later.id].state == "done"
    assert stored[later.id].record_ids == (record.id,)


async def test_client_wins_resends_against_the_current_version(
    faulty: RigFactory, tmp_path: Path
) -> None:
    rig = await _offline_rig(faulty, tmp_path)
    await rig.pa.offline.open()
    rig.pa.offline.on_conflict = client_wins
    table_id = await _table(rig.pa)
    record = await rig.pa.services.record.create_record(table_id, {"Name": "mine", "Count": 0})
    entry = await rig.pa.offline.enqueue(
        "update_record",
        {"record_id": record.id, "fields": {"Count": 1}, "expected_version": 1},
    )
    await rig.pa.services.record.update_record(record.id, {"Count": 99})
    result = await rig.pa.offline.sync()
    assert (result.sent, result.dropped) == (1, 0)
    current = await rig.pa.services.record.get_record(record.id)
    assert (current.fields["Count"], current.version) == (1, 3)
    done = next(e for e in await rig.pa.offline.entries() if e.id == entry.id)
    assert done.arguments["expected_version"] == 2
    assert done.idempotency_key != entry.idempotency_key
    assert done.attempts == 2


async def test_a_custom_async_strategy_sees_the_entry_and_the_conflict(
    faulty: RigFactory, tmp_path: Path
) -> None:
    rig = await _offline_rig(faulty, tmp_path)
    await rig.pa.offline.open()
    seen: list[tuple[OutboxEntry, ConflictError]] = []

    async def merge_counts(entry: OutboxEntry, error: ConflictError) -> ConflictResolution:
        seen.append((entry, error))
        assert error.current is not None
        total = error.current["fields"]["Count"] + entry.arguments["fields"]["Count"]
        return ConflictResolution.resend(
            {**entry.arguments, "fields": {"Count": total}, "expected_version": 2}
        )

    rig.pa.offline.on_conflict = merge_counts
    table_id = await _table(rig.pa)
    record = await rig.pa.services.record.create_record(table_id, {"Name": "c", "Count": 0})
    await rig.pa.offline.enqueue(
        "update_record",
        {"record_id": record.id, "fields": {"Count": 5}, "expected_version": 1},
    )
    await rig.pa.services.record.update_record(record.id, {"Count": 10})
    await rig.pa.offline.sync()
    assert len(seen) == 1 and seen[0][1].code == 409
    assert (await rig.pa.services.record.get_record(record.id)).fields["Count"] == 15


async def test_a_refused_write_fails_its_entry_and_the_caller_hears_why(
    faulty: RigFactory, tmp_path: Path
) -> None:
    rig = await _offline_rig(faulty, tmp_path)
    await rig.pa.offline.open()
    table_id = await _table(rig.pa)
    with pytest.raises(InvalidRequestError):
        await rig.pa.offline.create_record(table_id, {"Nope": "unknown field"})
    bad_queued = await rig.pa.offline.enqueue(
        "create_record", {"table_id": table_id, "fields": {"Count": "not a number"}}
    )
    await rig.pa.offline.enqueue("create_record", {"table_id": table_id, "fields": {"Name": "ok"}})
    result = await rig.pa.offline.sync()
    assert (result.sent, result.failed, result.pending) == (1, 1, 0)
    states = {e.id: e.state for e in await rig.pa.offline.entries()}
    assert states[bad_queued.id] == "failed"
    assert list(states.values()) == ["failed", "failed", "done"]
    assert await _names(rig.pa, table_id) == ["ok"]
    assert await rig.pa.offline.prune() == 3
    assert await rig.pa.offline.entries() == []


async def test_entries_belong_to_the_user_who_made_them(
    faulty: RigFactory, tmp_path: Path, backend: Backend
) -> None:
    rig = await _offline_rig(faulty, tmp_path)
    await rig.pa.offline.open()
    table_id = await _table(rig.pa)
    await rig.pa.offline.enqueue("create_record", {"table_id": table_id, "fields": {"Name": "a"}})
    assert rig.pa.offline.pending_count == 1
    await sign_in(rig.pa, backend)  # someone else signs in on this device
    assert rig.pa.offline.pending() == []
    assert (await rig.pa.offline.sync()).sent == 0


async def test_with_offline_support_off_writes_go_straight_and_nothing_is_recorded(
    pa: PyAirtableIntegration,
) -> None:
    assert not pa.offline.enabled
    table_id = await _table(pa)
    created = await pa.offline.create_record(table_id, {"Name": "direct"})
    assert created.fields["Name"] == "direct"
    assert pa.offline.pending() == []
    assert await pa.offline.entries() == []
    with pytest.raises(RuntimeError, match="Offline support is off"):
        await pa.offline.enqueue("create_record", {"table_id": table_id, "fields": {}})


async def test_wrong_arguments_are_refused_before_anything_is_recorded(
    faulty: RigFactory, tmp_path: Path
) -> None:
    rig = await _offline_rig(faulty, tmp_path)
    await rig.pa.offline.open()
    bad: dict[str, Any] = {"table_id": "tbl"}
    with pytest.raises(ValueError, match="missing: fields"):
        await rig.pa.offline.enqueue("create_record", bad)
    assert await rig.pa.offline.entries() == []


async def test_a_damaged_outbox_file_fails_initialize_with_a_typed_error(
    backend: Backend, tmp_path: Path
) -> None:
    path = tmp_path / "outbox.sqlite3"
    path.write_bytes(b"\x00garbage" * 1000)
    pa = create_integration(
        base_url=BASE_URL,
        environ={},
        http_transport=backend.transport(),
        features={"enable_offline_support": True},
        offline_path=str(path),
    )
    try:
        with pytest.raises(OutboxCorruptError) as caught:
            await pa.initialize()
        assert caught.value.path == str(path)
    finally:
        await pa.aclose()


async def test_an_initialized_integration_replays_what_an_earlier_one_left(
    make_integration: IntegrationFactory, backend: Backend, tmp_path: Path
) -> None:
    options: dict[str, Any] = {
        "features": {"enable_offline_support": True},
        "offline_path": str(tmp_path / "outbox.sqlite3"),
    }
    first = await make_integration(**options)
    email = await sign_in(first, backend)
    table_id = await _table(first)
    for name in ("a", "b", "c"):
        await first.offline.enqueue(
            "create_record", {"table_id": table_id, "fields": {"Name": name}}
        )
    # Closed at once: the background replay may or may not have started.
    await first.aclose()

    second = await make_integration(**options)
    await second.auth.login(email, PASSWORD)
    await second.offline.sync()
    assert second.offline.pending() == []
    assert sorted(await _names(second, table_id)) == ["a", "b", "c"]
    assert await _names(second, table_id) == ["a", "b", "c"]


async def test_set_online_from_the_realtime_side_wakes_the_background_replay(
    make_integration: IntegrationFactory, backend: Backend, tmp_path: Path
) -> None:
    faults = FaultTransport(backend.transport())
    pa = await make_integration(
        http_transport=faults,
        retry_attempts=0,
        features={"enable_offline_support": True, "enable_realtime": False},
        offline_path=str(tmp_path / "outbox.sqlite3"),
    )
    await sign_in(pa, backend)
    table_id = await _table(pa)
    # The health probe never succeeds, so only the hook can bring the outbox back online.
    faults.add(connect_error(), method="GET", path="/health", times=None)
    faults.add(connect_error(), method="POST", path="/records")
    with pytest.raises(OfflineError):
        await pa.offline.create_record(table_id, {"Name": "later"})
    drained = asyncio.Event()
    pa.offline.on_change(lambda event: drained.set() if event.pending == 0 else None)

    pa.offline.connectivity.set_online(True)
    async with asyncio.timeout(60):  # a hang guard, not a timing threshold
        await drained.wait()
    assert await _names(pa, table_id) == ["later"]
