"""Ids are checked by prefix and shape before any request, and path segments cannot escape.

Issue 13 item 10: ``delete_record("../workspaces/wsp…")`` once resolved to
``DELETE /workspaces/wsp…`` and deleted the workspace. These tests run against the real
backend in process and count the requests it received.
"""

from __future__ import annotations

import stat
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import pytest

from pyairtable_integration import (
    InvalidIdError,
    PyAirtableIntegration,
    ServiceError,
    SyncIntegration,
    create_integration,
)
from pyairtable_integration._ids import check_id, id_segment, is_plain_path, segment
from pyairtable_integration.offline._store import OutboxStore
from pyairtable_integration.testing import PASSWORD

from .conftest import BASE_URL, Backend, IntegrationFactory, sign_in

pytestmark = pytest.mark.anyio

WORKSPACE_ESCAPE = "../workspaces/"


def _sent(backend: Backend) -> int:
    return sum(backend.counting.requests.values())


async def test_deleting_a_record_by_a_path_that_climbs_to_a_workspace_sends_nothing(
    pa: PyAirtableIntegration, backend: Backend
) -> None:
    workspace = await pa.services.workspace.create_workspace(name="Keep me")
    before = _sent(backend)
    with pytest.raises(InvalidIdError) as raised:
        await pa.services.record.delete_record(WORKSPACE_ESCAPE + workspace.id)
    assert raised.value.details == {"parameter": "record_id", "expected": "rec"}
    assert isinstance(raised.value, ValueError) and isinstance(raised.value, ServiceError)
    assert _sent(backend) == before
    assert (await pa.services.workspace.get_workspace(workspace.id)).name == "Keep me"


def _id_taking_calls(
    pa: PyAirtableIntegration, bad: str
) -> list[tuple[str, Callable[[], Awaitable[Any]]]]:
    s = pa.services
    return [
        ("record.get_record", lambda: s.record.get_record(bad)),
        ("record.update_record", lambda: s.record.update_record(bad, {"A": 1})),
        ("record.replace_record", lambda: s.record.replace_record(bad, {"A": 1})),
        ("record.get_records", lambda: s.record.get_records(bad)),
        ("record.create_record", lambda: s.record.create_record(bad, {"A": 1})),
        ("record.delete_records", lambda: s.record.delete_records("tbl" + "0" * 16, [bad])),
        (
            "record.update_records",
            lambda: s.record.update_records("tbl" + "0" * 16, [{"id": bad, "fields": {}}]),
        ),
        ("table.get_table", lambda: s.table.get_table(bad)),
        ("table.delete_table", lambda: s.table.delete_table(bad)),
        ("base.delete_base", lambda: s.base.delete_base(bad)),
        ("base.get_bases", lambda: s.base.get_bases(bad)),
        ("field.delete_field", lambda: s.field.delete_field(bad)),
        ("view.delete_view", lambda: s.view.delete_view(bad)),
        ("file.delete_file", lambda: s.file.delete_file(bad)),
        ("file.get_file_content", lambda: s.file.get_file_content(bad)),
        ("webhook.delete_webhook", lambda: s.webhook.delete_webhook(bad)),
        ("webhook.retry_delivery", lambda: s.webhook.retry_delivery("whk" + "0" * 16, bad)),
        ("workspace.delete_workspace", lambda: s.workspace.delete_workspace(bad)),
        (
            "workspace.remove_workspace_member",
            lambda: s.workspace.remove_workspace_member("wsp" + "0" * 16, bad),
        ),
        ("user.get_user", lambda: s.user.get_user(bad)),
        ("auth.get_permissions", lambda: s.auth.get_permissions(bad)),
        ("event.get_events", lambda: s.event.get_events(table_id=bad)),
        ("pa.auth.permissions", lambda: pa.auth.permissions(bad)),
    ]


@pytest.mark.parametrize(
    "bad",
    ["../workspaces/wsp0000000000000000", "rec0000000000000000/..", "", "rec%2e%2e", "x" * 200],
)
async def test_every_method_taking_an_id_refuses_a_malformed_one_before_sending(
    pa: PyAirtableIntegration, backend: Backend, bad: str
) -> None:
    before = _sent(backend)
    for name, call in _id_taking_calls(pa, bad):
        with pytest.raises(InvalidIdError):
            await call()
        assert _sent(backend) == before, name


async def test_an_id_of_another_type_is_refused(pa: PyAirtableIntegration) -> None:
    workspace = await pa.services.workspace.create_workspace(name="W")
    with pytest.raises(InvalidIdError, match="record_id must be a record id"):
        await pa.services.record.get_record(workspace.id)


async def test_the_offline_outbox_refuses_to_record_a_write_to_a_malformed_id(
    make_integration: IntegrationFactory, backend: Backend, tmp_path: Path
) -> None:
    pa = await make_integration(
        features={"enable_offline_support": True, "enable_realtime": False},
        offline_path=str(tmp_path / "outbox.sqlite3"),
    )
    await sign_in(pa, backend)
    workspace = await pa.services.workspace.create_workspace(name="Keep me")
    before = _sent(backend)
    with pytest.raises(InvalidIdError):
        await pa.offline.delete_record(WORKSPACE_ESCAPE + workspace.id)
    with pytest.raises(InvalidIdError):
        await pa.offline.enqueue(
            "delete_records", {"table_id": "tbl" + "0" * 16, "record_ids": ["../x"]}
        )
    assert await pa.offline.entries() == []
    assert _sent(backend) == before


async def test_a_malformed_entry_already_in_an_outbox_file_fails_without_being_sent(
    make_integration: IntegrationFactory, backend: Backend, tmp_path: Path
) -> None:
    path = tmp_path / "outbox.sqlite3"
    first = await make_integration()
    email = await sign_in(first, backend)
    workspace = await first.services.workspace.create_workspace(name="Keep me")
    assert first.auth.session is not None
    # Written as an older SDK (or a hand-edited file) could have: the replay must check too.
    store = OutboxStore(path)
    store.add(
        id="obxbad",
        user_id=first.auth.session.user_id,
        operation="delete_record",
        arguments={"record_id": WORKSPACE_ESCAPE + workspace.id},
        idempotency_key="k",
        update_id=None,
        created_at=datetime.now(UTC),
    )
    store.close()
    pa = await make_integration(
        features={"enable_offline_support": True, "enable_realtime": False},
        offline_path=str(path),
    )
    before = _sent(backend)
    await pa.auth.login(email, PASSWORD)
    await pa.offline.sync()
    entries = await pa.offline.entries()
    assert [(entry.id, entry.state) for entry in entries] == [("obxbad", "failed")]
    assert entries[0].error is not None and "record_id" in str(entries[0].error)
    assert backend.count("DELETE", f"/api/v1/workspaces/{workspace.id}") == 0
    assert _sent(backend) == before + 1  # the login, nothing else
    assert (await pa.services.workspace.get_workspace(workspace.id)).name == "Keep me"


def test_the_blocking_facade_refuses_a_malformed_id_before_sending() -> None:
    # Nothing listens on port 9: a request would fail with NetworkError, not InvalidIdError.
    with (
        SyncIntegration.create(
            base_url="http://127.0.0.1:9/api/v1", environ={}, retry_attempts=0
        ) as pa,
        pytest.raises(InvalidIdError),
    ):
        pa.services.record.delete_record(WORKSPACE_ESCAPE + "wsp" + "0" * 16)


async def test_realtime_filters_are_checked_as_ids() -> None:
    pa = create_integration(
        base_url=BASE_URL, environ={}, features={"enable_realtime": True}, http_transport=None
    )
    try:
        with pytest.raises(InvalidIdError):
            pa.realtime.subscribe_to_record_changes("../tbl", lambda event: None)
        with pytest.raises(InvalidIdError):
            pa.realtime.subscribe("record", {"aggregate_id": "nope"}, lambda event: None)
    finally:
        await pa.aclose()


async def test_the_transport_refuses_a_path_with_dot_segments(pa: PyAirtableIntegration) -> None:
    with pytest.raises(ValueError, match="unresolved path"):
        await pa.transport.request("record", "DELETE", "/records/../workspaces/wsp0")


def test_ids_segments_and_paths_as_pure_functions() -> None:
    good = "rec" + "aZ09" * 4
    assert check_id(good, "rec") == good
    assert id_segment(good, "rec") == good
    for bad in [
        "rec",
        "rec" + "a" * 13,
        "REC" + "a" * 16,
        "rec" + "a" * 65,
        None,
        7,
        "tbl" + "a" * 16,
    ]:
        with pytest.raises(InvalidIdError):
            check_id(bad, "rec")
    assert segment("a/b?c#d e") == "a%2Fb%3Fc%23d%20e"
    for bad_segment in ["", ".", ".."]:
        with pytest.raises(ValueError, match="cannot be a URL path segment"):
            segment(bad_segment)
    assert is_plain_path("/records/rec1")
    for path in ["/records/../x", "/records/./x", "/records//x", "/a/%2E%2E/b"]:
        assert not is_plain_path(path)
    # httpx resolves what the check refuses: the reason for it.
    url = httpx2.URL("http://h/api/v1/").join("records/../workspaces/w")
    assert url.path == "/api/v1/workspaces/w"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_outbox_file_is_private_in_private_folders(tmp_path: Path) -> None:
    path = tmp_path / "made" / "here" / "outbox.sqlite3"
    store = OutboxStore(path)
    store.add(
        id="obx1",
        user_id="usr1",
        operation="create_record",
        arguments={"table_id": "tbl1", "fields": {}},
        idempotency_key="k",
        update_id=None,
        created_at=datetime.now(UTC),
    )
    assert _mode(path) == 0o600
    assert _mode(path.with_name(path.name + "-wal")) == 0o600
    assert _mode(tmp_path / "made") == 0o700
    assert _mode(tmp_path / "made" / "here") == 0o700
    store.close()
    # An older, world-readable file is narrowed when opened; a folder that existed is kept.
    tmp_path.chmod(0o755)
    old = tmp_path / "old.sqlite3"
    old.touch(mode=0o644)
    old.chmod(0o644)
    OutboxStore(old).close()
    assert _mode(old) == 0o600
    assert _mode(tmp_path) == 0o755


def test_the_fast_id_check_agrees_with_the_backends_shape() -> None:
    from pyairtable_integration._ids import _SHAPE, is_id

    samples = [
        "rec" + "a" * 14,
        "rec" + "a" * 13,
        "rec" + "Z9" * 32,
        "rec" + "Z9" * 32 + "x",
        "rec" + "é" * 14,
        "rec" + "٣" * 14,  # a non-ASCII digit
        "rec" + "a" * 13 + "-",
        "rec" + "a" * 13 + " ",
        "recABCDEFGHIJKLMN\n",
    ]
    for sample in samples:
        assert is_id(sample, "rec") == (_SHAPE.fullmatch(sample) is not None), sample
