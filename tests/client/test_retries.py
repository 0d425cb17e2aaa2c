"""Retries: reads through resets and 5xx bursts, writes only with one idempotency key.

Waits go through the fake clock, so ``clock.sleeps`` is exactly the waits the transport chose.
"""

from __future__ import annotations

import secrets

import pytest

from pyairtable_integration import (
    NetworkError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    ServiceUnavailableError,
)
from pyairtable_integration.testing import PASSWORD, connect_error, reset, status

from .conftest import Backend, RigFactory

pytestmark = pytest.mark.anyio


async def test_a_read_is_retried_through_a_reset_and_a_5xx_burst(faulty: RigFactory) -> None:
    rig = await faulty(retry_attempts=3)
    rig.faults.script(reset(), status(502), status(503), method="GET", path="/workspaces")
    page = await rig.pa.services.workspace.get_workspaces()
    assert page.data == []
    attempts = rig.faults.seen("GET", "/workspaces")
    assert [seen.fault for seen in attempts] == ["reset", "status_502", "status_503", None]
    assert attempts[-1].status == 200
    assert len({seen.request_id for seen in attempts}) == 1
    assert rig.clock.sleeps == [0.0, 0.0, 0.0]
    assert rig.pa.get_metrics()["workspace"].retries == 3


async def test_retries_stop_after_retry_attempts(faulty: RigFactory) -> None:
    rig = await faulty(retry_attempts=2)
    rig.faults.add(status(500), method="GET", path="/workspaces", times=None)
    with pytest.raises(ServerError):
        await rig.pa.services.workspace.get_workspaces()
    assert len(rig.faults.seen("GET", "/workspaces")) == 3
    assert len(rig.clock.sleeps) == 2


async def test_backoff_waits_are_jittered_and_grow(faulty: RigFactory) -> None:
    rig = await faulty(retry_attempts=3, retry_delay=1.0, retry_max_delay=30.0)
    rig.faults.add(status(503), method="GET", path="/workspaces", times=3)
    await rig.pa.services.workspace.get_workspaces()
    first, second, third = rig.clock.sleeps
    assert 0.5 <= first <= 1.0
    assert 1.0 <= second <= 2.0
    assert 2.0 <= third <= 4.0


async def test_a_client_error_is_not_retried(faulty: RigFactory) -> None:
    rig = await faulty(retry_attempts=3)
    with pytest.raises(NotFoundError):
        await rig.pa.services.workspace.get_workspace("wsp" + "0" * 16)
    assert len(rig.faults.seen("GET", "/workspaces/*")) == 1
    assert rig.clock.sleeps == []


async def test_a_created_workspace_whose_answer_was_lost_is_created_once(
    faulty: RigFactory,
) -> None:
    rig = await faulty()
    rig.faults.add(reset(), method="POST", path="/workspaces")
    name = "Lost-" + secrets.token_hex(4)
    workspace = await rig.pa.services.workspace.create_workspace(name=name)
    first, second = rig.faults.seen("POST", "/workspaces")
    assert first.fault == "reset" and first.error == "RemoteProtocolError"
    assert first.idempotency_key is not None
    assert second.idempotency_key == first.idempotency_key
    assert second.request_id == first.request_id
    assert second.response_headers.get("Idempotent-Replayed") == "true"
    listed = await rig.pa.services.workspace.get_workspaces()
    assert [w.id for w in listed.data if w.name == name] == [workspace.id]


async def test_a_created_record_whose_answer_was_lost_is_created_once(
    faulty: RigFactory,
) -> None:
    rig = await faulty()
    workspace = await rig.pa.services.workspace.create_workspace(name="Records")
    base = await rig.pa.services.base.create_base(workspace_id=workspace.id, name="B")
    table = await rig.pa.services.table.create_table(base_id=base.id, name="T")
    rig.faults.add(reset(), method="POST", path="/records")
    rig.faults.add(status(503), method="POST", path="/records")
    record = await rig.pa.services.record.create_record(table.id, {"Name": "once"})
    attempts = rig.faults.seen("POST", "/records")
    assert [seen.fault for seen in attempts] == ["reset", "status_503", None]
    assert len({seen.idempotency_key for seen in attempts}) == 1
    page = await rig.pa.services.record.get_records(table.id)
    assert [r.id for r in page.data] == [record.id]
    assert page.pagination.total == 1


async def test_each_logical_write_gets_its_own_key(faulty: RigFactory) -> None:
    rig = await faulty()
    await rig.pa.services.workspace.create_workspace(name="A")
    await rig.pa.services.workspace.create_workspace(name="B")
    keys = [seen.idempotency_key for seen in rig.faults.seen("POST", "/workspaces")]
    assert len(keys) == 2 and None not in keys and keys[0] != keys[1]


async def test_a_sign_in_that_reached_the_server_is_not_retried(
    faulty: RigFactory, backend: Backend
) -> None:
    rig = await faulty(signed_in=False, retry_attempts=3)
    email = "once-" + secrets.token_hex(4) + "@example.com"
    await backend.api.register(email)
    rig.faults.add(reset(), method="POST", path="/auth/login")
    with pytest.raises(NetworkError):
        await rig.pa.auth.login(email, PASSWORD)
    assert len(rig.faults.seen("POST", "/auth/login")) == 1
    assert rig.faults.seen("POST", "/auth/login")[0].idempotency_key is None
    assert not rig.pa.auth.is_authenticated


async def test_a_sign_in_that_never_left_is_retried(faulty: RigFactory, backend: Backend) -> None:
    rig = await faulty(signed_in=False, retry_attempts=3)
    email = "refused-" + secrets.token_hex(4) + "@example.com"
    await backend.api.register(email)
    rig.faults.add(connect_error(), method="POST", path="/auth/login")
    await rig.pa.auth.login(email, PASSWORD)
    assert [seen.fault for seen in rig.faults.seen("POST", "/auth/login")] == [
        "connect_error",
        None,
    ]
    assert rig.pa.auth.is_authenticated


async def test_retry_after_within_the_cap_is_waited_exactly(faulty: RigFactory) -> None:
    rig = await faulty(retry_after_cap=10)
    rig.faults.add(status(429, retry_after=7), method="GET", path="/workspaces")
    await rig.pa.services.workspace.get_workspaces()
    assert rig.clock.sleeps == [7.0]
    assert len(rig.faults.seen("GET", "/workspaces")) == 2


async def test_retry_after_beyond_the_cap_is_raised_at_once(faulty: RigFactory) -> None:
    rig = await faulty(retry_after_cap=10)
    rig.faults.add(status(503, retry_after=30), method="GET", path="/workspaces")
    with pytest.raises(ServiceUnavailableError) as caught:
        await rig.pa.services.workspace.get_workspaces()
    assert caught.value.retry_after == 30.0
    assert rig.clock.sleeps == []
    assert len(rig.faults.seen("GET", "/workspaces")) == 1


async def test_a_rate_limited_write_with_a_key_is_retried_after_the_wait(
    faulty: RigFactory,
) -> None:
    rig = await faulty()
    rig.faults.add(status(429, retry_after=3), method="POST", path="/workspaces")
    name = "Later-" + secrets.token_hex(4)
    await rig.pa.services.workspace.create_workspace(name=name)
    assert rig.clock.sleeps == [3.0]
    first, second = rig.faults.seen("POST", "/workspaces")
    assert first.idempotency_key == second.idempotency_key
    assert second.status == 201


async def test_a_rate_limit_that_outlasts_the_retries_is_raised(faulty: RigFactory) -> None:
    rig = await faulty(retry_attempts=1)
    rig.faults.add(status(429, retry_after=1), method="GET", path="/workspaces", times=None)
    with pytest.raises(RateLimitedError) as caught:
        await rig.pa.services.workspace.get_workspaces()
    assert caught.value.retry_after == 1.0
    assert rig.clock.sleeps == [1.0]
