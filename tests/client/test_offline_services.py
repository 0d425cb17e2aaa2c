"""With offline support on, a record write through ``pa.services`` that gets no answer is kept.

Issue 15: ``pa.services.record.create_record(...)`` with the backend unreachable raised
``NetworkError`` (then ``CircuitOpenError``) and ``pa.offline.pending()`` stayed empty: the
write was lost. Now it is recorded in the outbox with the key it was sent with, the caller gets
``OfflineError`` naming the entry, and the replay applies it once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pyairtable_integration import NetworkError, OfflineError
from pyairtable_integration.testing import connect_error, reset

from .conftest import Rig, RigFactory
from .test_offline_outbox import _names, _table

pytestmark = pytest.mark.anyio


async def _rig(faulty: RigFactory, tmp_path: Path, **options: object) -> Rig:
    options.setdefault("breaker_failure_threshold", 2)
    rig = await faulty(
        features={"enable_offline_support": True},
        offline_path=str(tmp_path / "outbox.sqlite3"),
        retry_attempts=0,
        **options,
    )
    await rig.pa.offline.open()
    return rig


async def test_writes_through_the_services_while_unreachable_are_kept_and_replayed_once(
    faulty: RigFactory, tmp_path: Path
) -> None:
    rig = await _rig(faulty, tmp_path)
    table_id = await _table(rig.pa)
    kept = await rig.pa.services.record.create_record(table_id, {"Name": "a", "Count": 1})
    rig.faults.add(connect_error(), path="/records*", times=None)
    entry_ids: list[str | None] = []
    # Two refused connections open the record breaker; the writes after it are kept too.
    for name in ["b", "c", "d"]:
        with pytest.raises(OfflineError) as raised:
            await rig.pa.services.record.create_record(table_id, {"Name": name, "Count": 1})
        entry_ids.append(raised.value.entry_id)
    with pytest.raises(OfflineError) as raised:
        await rig.pa.services.record.update_record(kept.id, {"Count": 2}, expected_version=1)
    entry_ids.append(raised.value.entry_id)
    assert rig.pa.transport.breakers()["record"].state == "open"
    pending = rig.pa.offline.pending()
    assert [entry.id for entry in pending] == entry_ids
    assert [entry.operation for entry in pending] == ["create_record"] * 3 + ["update_record"]
    # (the outbox adds the record's table, so the write shows in its lists while it waits)
    assert {k: v for k, v in pending[3].arguments.items() if k != "table_id"} == {
        "record_id": kept.id,
        "fields": {"Count": 2},
        "expected_version": 1,
    }
    # Recorded durably: the file holds them, whatever happens to the process.
    assert [
        entry.id for entry in await rig.pa.offline.entries() if entry.state == "pending"
    ] == entry_ids

    rig.faults.clear()
    rig.clock.advance(3600)  # the breaker lets a probe through again
    result = await rig.pa.offline.sync()
    assert (result.sent, result.pending) == (4, 0)
    assert await _names(rig.pa, table_id) == ["a", "b", "c", "d"]
    assert (await rig.pa.services.record.get_record(kept.id)).fields["Count"] == 2


async def test_a_write_applied_whose_answer_was_lost_is_kept_with_its_key_and_applied_once(
    faulty: RigFactory, tmp_path: Path
) -> None:
    rig = await _rig(faulty, tmp_path)
    table_id = await _table(rig.pa)
    rig.faults.add(reset(), method="POST", path="/records", times=1)
    with pytest.raises(OfflineError) as raised:
        await rig.pa.services.record.create_record(table_id, {"Name": "once", "Count": 1})
    (entry,) = rig.pa.offline.pending()
    assert entry.id == raised.value.entry_id
    (sent,) = rig.faults.seen("POST", "/records")
    assert sent.idempotency_key == entry.idempotency_key
    result = await rig.pa.offline.sync()
    assert result.sent == 1
    assert await _names(rig.pa, table_id) == ["once"]


async def test_with_offline_support_off_the_failure_is_raised_and_nothing_is_kept(
    faulty: RigFactory, tmp_path: Path
) -> None:
    rig = await faulty(retry_attempts=0, offline_path=str(tmp_path / "outbox.sqlite3"))
    table_id = await _table(rig.pa)
    rig.faults.add(connect_error(), path="/records*", times=None)
    with pytest.raises(NetworkError):
        await rig.pa.services.record.create_record(table_id, {"Name": "x"})
    assert rig.pa.offline.pending() == []
