"""A started integration on ``AutojumpClock``: back-offs, token expiry and reconnects happen on
virtual time, in order, with no real sleep (issue 15: ``FakeClock`` made such an integration
spin, so these could not be tested started)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from pyairtable_integration import RealtimeState, SessionEvent
from pyairtable_integration.testing import AutojumpClock, FaultTransport, status

from .conftest import Backend, IntegrationFactory, sign_in

pytestmark = pytest.mark.anyio

GUARD = 60  # real seconds: a hang guard, never a measure


async def test_retry_back_off_of_a_started_integration_runs_on_virtual_time(
    make_integration: IntegrationFactory, backend: Backend
) -> None:
    clock = AutojumpClock()
    faults = FaultTransport(backend.transport())
    pa = await make_integration(
        clock=clock, http_transport=faults, retry_delay=30, retry_attempts=3
    )
    await sign_in(pa, backend)
    faults.add(status(503, retry_after=40), method="GET", path="/workspaces", times=2)
    started = clock.monotonic()
    async with asyncio.timeout(GUARD):
        page = await pa.services.workspace.get_workspaces()
    assert page.data == []
    assert [s.status for s in faults.seen("GET", "/workspaces")] == [503, 503, 200]
    assert clock.monotonic() - started >= 80  # two Retry-After waits of 40 virtual seconds


async def test_the_token_refresher_of_a_started_integration_refreshes_on_virtual_time(
    make_integration: IntegrationFactory, backend: Backend
) -> None:
    clock = AutojumpClock()
    pa = await make_integration(clock=clock, refresh_margin=60)
    refreshed = asyncio.Event()

    def heard(event: SessionEvent) -> None:
        if event.kind == "refreshed":
            refreshed.set()

    pa.auth.on_session_change(heard)
    await sign_in(pa, backend)
    session = pa.auth.session
    assert session is not None
    due = session.expires_at
    async with asyncio.timeout(GUARD):
        await refreshed.wait()
    assert clock.now() >= due - timedelta(seconds=60)
    assert pa.auth.session is not None and pa.auth.session.expires_at > due
    # A started integration waits quietly for the next expiry: time jumps, nothing spins.
    assert clock.jumps < 50


async def test_realtime_reconnect_back_off_runs_on_virtual_time(
    make_integration: IntegrationFactory, backend: Backend
) -> None:
    clock = AutojumpClock()
    pa = await make_integration(
        clock=clock,
        features={"enable_realtime": True},
        realtime_config={
            "websocket_url": "ws://127.0.0.1:9/ws",  # nothing listens: refused at once
            "enable_sse_fallback": False,
            "reconnect_delay": 5,
            "reconnect_max_delay": 20,
            "failures_to_fall": 3,
        },
    )
    states: list[RealtimeState] = []
    pa.realtime.manager.on_state_change(states.append)
    await sign_in(pa, backend)
    fallback = asyncio.Event()
    pa.realtime.manager.on_state_change(
        lambda state: fallback.set() if state.status == "fallback" else None
    )
    workspace = await pa.services.workspace.create_workspace(name="Realtime")
    base = await pa.services.base.create_base(workspace_id=workspace.id, name="B")
    table = await pa.services.table.create_table(base_id=base.id, name="T")
    pa.realtime.subscribe_to_record_changes(table.id, lambda event: None)
    async with asyncio.timeout(GUARD):
        await fallback.wait()
    failed = [state for state in states if state.status in ("connecting", "reconnecting")]
    assert max(state.attempt for state in failed) >= 3
    assert pa.realtime.manager.state.transport == "polling"
    assert clock.monotonic() >= 5  # the back-offs were waited, on virtual time
