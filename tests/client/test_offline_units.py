"""The outbox's pure parts and its file, without an event loop: back-off, error handling,
conflict strategies, and the SQLite store's order, durability and refusal of bad files."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pyairtable_integration._errors import (
    AuthenticationError,
    CircuitOpenError,
    ConflictError,
    InvalidRequestError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    ServiceUnavailableError,
)
from pyairtable_integration.offline import (
    ConflictResolution,
    OutboxCorruptError,
    OutboxEntry,
    OutboxStore,
    OutboxWriteError,
    client_wins,
    default_outbox_path,
    probe_delay,
    resolve_entry,
    server_wins,
)
from pyairtable_integration.offline._handling import handling, retry_hint
from pyairtable_integration.store._operations import check_arguments, records_touched

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _add(store: OutboxStore, n: int, *, user: str = "usr1") -> OutboxEntry:
    return store.add(
        id=f"obx{n}",
        user_id=user,
        operation="create_record",
        arguments={"table_id": "tbl1", "fields": {"Name": f"n{n}", "Ünï": "✓"}},
        idempotency_key=f"key{n}",
        update_id=None if n % 2 else f"upd{n}",
        created_at=NOW,
    )


def test_probe_delay_doubles_from_base_up_to_the_cap_with_half_of_it_jittered() -> None:
    lowest = [probe_delay(n, base=1, cap=8, uniform=lambda a, b: a) for n in range(1, 7)]
    highest = [probe_delay(n, base=1, cap=8, uniform=lambda a, b: b) for n in range(1, 7)]
    assert lowest == [0.5, 1, 2, 4, 4, 4]
    assert highest == [1, 2, 4, 8, 8, 8]
    assert probe_delay(10_000, base=1, cap=8, uniform=lambda a, b: b) == 8
    with pytest.raises(ValueError, match="from 1"):
        probe_delay(0)


def test_no_answer_and_503_keep_the_entry_other_errors_depend_on_who_waits() -> None:
    keep = [
        NetworkError("x"),
        CircuitOpenError("x", retry_in=3),
        ServiceUnavailableError("x", code=503),
    ]
    for error in keep:
        assert handling(error, caller_waits=True) == "keep"
        assert handling(error, caller_waits=False) == "keep"
    passing = [AuthenticationError("x", code=401), RateLimitedError("x", code=429)]
    passing.append(ServerError("x", code=500))
    for error in passing:
        assert handling(error, caller_waits=False) == "keep"
        assert handling(error, caller_waits=True) == "fail"
    conflict = ConflictError("x", code=409)
    assert handling(conflict, caller_waits=False) == "conflict"
    assert handling(conflict, caller_waits=True) == "fail"
    for refused in (InvalidRequestError("x", code=422), NotFoundError("x", code=404)):
        assert handling(refused, caller_waits=False) == "fail"


def test_retry_hint_is_what_the_error_asks_for() -> None:
    assert retry_hint(CircuitOpenError("x", retry_in=4.5)) == 4.5
    assert retry_hint(RateLimitedError("x", retry_after=7)) == 7
    assert retry_hint(ServiceUnavailableError("x", retry_after=None)) == 0
    assert retry_hint(NetworkError("x")) == 0


def _update_entry(tmp_path: Path) -> OutboxEntry:
    """An entry updating rec1's A to 1, expected at version 2."""
    store = OutboxStore(tmp_path / "o.sqlite3")
    entry = store.add(
        id="e",
        user_id="u",
        operation="update_record",
        arguments={"record_id": "rec1", "fields": {"A": 1}, "expected_version": 2},
        idempotency_key="k",
        update_id=None,
        created_at=NOW,
    )
    store.close()
    return entry


def test_server_wins_drops_and_client_wins_resends_at_the_current_version(
    tmp_path: Path,
) -> None:
    entry = _update_entry(tmp_path)
    conflict = ConflictError("x", code=409, details={"current": {"id": "rec1", "version": 5}})
    assert server_wins(entry, conflict) == ConflictResolution.drop()
    resolution = client_wins(entry, conflict)
    assert resolution == ConflictResolution.resend(
        {"record_id": "rec1", "fields": {"A": 1}, "expected_version": 5}
    )
    # Without the current version there is nothing to send against: the write is dropped.
    assert client_wins(entry, ConflictError("x", code=409)).action == "drop"


def test_the_outbox_decides_by_the_one_conflict_strategy_of_pa_mutate(tmp_path: Path) -> None:
    """Issue 15 item 1: one ``ConflictStrategy`` (names or a resolver) for every write path."""
    entry = _update_entry(tmp_path)
    current = {"id": "rec1", "version": 5, "fields": {"A": 0, "B": 7}}
    conflict = ConflictError("x", code=409, details={"current": current})
    # merge: the server holds another A, and without a base that counts as its change.
    assert resolve_entry("merge", entry, conflict) == ConflictResolution.drop()
    assert resolve_entry("client_wins", entry, conflict) == client_wins(entry, conflict)

    def keep_both(
        local: Mapping[str, Any], base: Mapping[str, Any] | None, now: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        return {"A": now["A"] + local["A"]}

    assert resolve_entry(keep_both, entry, conflict) == ConflictResolution.resend(
        {"record_id": "rec1", "fields": {"A": 1}, "expected_version": 5}
    )


def test_arguments_are_checked_and_the_records_an_entry_touches_are_named() -> None:
    record_id = "rec" + "0" * 16  # ids are checked by shape too (test_path_safety)
    check_arguments("update_record", {"record_id": record_id, "fields": {}, "expected_version": 1})
    with pytest.raises(ValueError, match="missing: fields"):
        check_arguments("update_record", {"record_id": "r"})
    with pytest.raises(ValueError, match="unknown: colour"):
        check_arguments("delete_record", {"record_id": "r", "colour": "red"})
    with pytest.raises(ValueError, match="cannot hold 'drop_table'"):
        check_arguments("drop_table", {})
    assert records_touched("delete_records", {"table_id": "t", "record_ids": ["a", "b"]}) == (
        "a",
        "b",
    )
    assert records_touched("create_record", {"table_id": "t", "fields": {}}) == ()
    assert records_touched("update_records", {"records": [{"id": "c", "fields": {}}]}) == ("c",)


def test_the_default_path_follows_xdg_data_home() -> None:
    assert default_outbox_path({"XDG_DATA_HOME": "/data"}) == Path(
        "/data/pyairtable-integration/outbox.sqlite3"
    )
    assert default_outbox_path({}).parts[-4:] == (
        ".local",
        "share",
        "pyairtable-integration",
        "outbox.sqlite3",
    )


def test_entries_keep_their_order_arguments_and_state_across_reopening(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "outbox.sqlite3"
    store = OutboxStore(path)
    for n in range(5):
        _add(store, n)
    _add(store, 9, user="usr2")
    store.begin_send("obx0")
    store.finish("obx0", "done", result={"id": "rec0"})
    store.begin_send("obx1")  # a crash here leaves it "sending"
    store.close()

    reopened = OutboxStore(path)
    unsent = reopened.entries("usr1", states=("pending", "sending"))
    assert [e.id for e in unsent] == ["obx1", "obx2", "obx3", "obx4"]
    assert (unsent[0].state, unsent[0].attempts) == ("sending", 1)
    assert unsent[1].arguments == {"table_id": "tbl1", "fields": {"Name": "n2", "Ünï": "✓"}}
    assert (unsent[1].idempotency_key, unsent[1].update_id) == ("key2", "upd2")
    assert unsent[1].created_at == NOW
    assert unsent[1].record_ids == ()
    done = reopened.get("obx0")
    assert done is not None and (done.state, done.result) == ("done", {"id": "rec0"})
    assert reopened.count("usr1") == 4
    assert reopened.count("usr2") == 1
    reopened.rewrite("obx2", arguments={"table_id": "tbl1", "fields": {}}, idempotency_key="new")
    rewritten = reopened.get("obx2")
    assert rewritten is not None and rewritten.idempotency_key == "new"
    reopened.finish("obx3", "failed", error="VALIDATION_ERROR: no")
    assert reopened.prune("usr1") == 2
    assert [e.id for e in reopened.entries("usr1")] == ["obx1", "obx2", "obx4"]
    assert reopened.get("obx9") is not None
    reopened.close()


def test_the_file_is_in_wal_mode_and_marked_as_an_outbox(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    OutboxStore(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA application_id").fetchone()[0] != 0
    db.close()


def test_a_file_that_is_not_sqlite_is_refused_at_open(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    path.write_bytes(b"this is not a database, just some text\n" * 200)
    with pytest.raises(OutboxCorruptError, match="not a readable outbox") as caught:
        OutboxStore(path)
    assert caught.value.path == str(path)
    assert caught.value.type == "OUTBOX_CORRUPT"


def test_another_applications_database_is_refused_at_open(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (body TEXT)")
    db.close()
    with pytest.raises(OutboxCorruptError, match="another application"):
        OutboxStore(path)


def test_a_newer_schema_is_refused_at_open(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    OutboxStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(OutboxCorruptError, match="schema version 99"):
        OutboxStore(path)


def test_a_damaged_page_is_refused_at_open(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    store = OutboxStore(path)
    for n in range(200):
        _add(store, n)
    store.close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    data = bytearray(path.read_bytes())
    page = 4096
    # Overwrite the second page (the table's first b-tree page) with noise.
    data[page : 2 * page] = bytes((i * 37) % 251 for i in range(page))
    path.write_bytes(bytes(data))
    with pytest.raises(OutboxCorruptError):
        OutboxStore(path)


def test_a_full_disk_is_a_write_error_and_what_was_recorded_stays(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    store = OutboxStore(path, max_bytes=64 * 1024)
    recorded: list[int] = []

    def fill() -> None:
        for n in range(10_000):
            store.add(
                id=f"obx{n}",
                user_id="usr1",
                operation="create_record",
                arguments={"table_id": "t", "fields": {"Notes": "x" * 500}},
                idempotency_key=f"k{n}",
                update_id=None,
                created_at=NOW,
            )
            recorded.append(n)

    with pytest.raises(OutboxWriteError, match="full") as caught:
        fill()
    assert caught.value.type == "OUTBOX_WRITE"
    assert len(recorded) > 10
    assert store.count("usr1") == len(recorded)
    store.close()
    reopened = OutboxStore(path)
    assert reopened.count("usr1") == len(recorded)
    reopened.close()


def test_outbox_operations_are_a_discriminated_union_of_models() -> None:
    from pyairtable_integration.store._operations import (
        DeleteRecords,
        UpdateRecord,
        parse,
    )

    record_id = "rec" + "1" * 16
    update = parse("update_record", {"record_id": record_id, "fields": {"A": 1}})
    assert isinstance(update, UpdateRecord)
    assert (update.operation, update.records_touched()) == ("update_record", (record_id,))
    batch = parse("delete_records", {"table_id": "tbl" + "1" * 16, "record_ids": [record_id]})
    assert isinstance(batch, DeleteRecords) and batch.records_touched() == (record_id,)
    with pytest.raises(ValueError, match="update_record: fields: Input should be a valid dict"):
        parse("update_record", {"record_id": record_id, "fields": ["not", "a", "dict"]})
    with pytest.raises(ValueError, match="expected_version: Input should be a valid integer"):
        check_arguments("delete_record", {"record_id": record_id, "expected_version": "two"})


def test_each_outbox_write_takes_exactly_the_arguments_of_its_operation() -> None:
    """Issue 15 item 6: the outbox's writes are derived from the operations, not copied."""
    import inspect
    import typing

    from pyairtable_integration.offline import OfflineOutbox, OutboxOperation

    models = typing.get_args(typing.get_args(OutboxOperation)[0])
    assert len(models) == 7
    for model in models:
        name = model.model_fields["operation"].default
        parameters = list(inspect.signature(getattr(OfflineOutbox, name)).parameters)[1:]
        assert set(parameters) == {*model.model_fields, "update_id"} - {"operation"}, name
