"""Ending a session closes its live streams at once: WebSocket 4401, SSE an ``error`` frame.

Logout, a password change (other sessions), refresh-token reuse (the family) and deactivation
all leave a notice in the event log that every hub reads; the hub closes the connections whose
session the database says has ended, and no other.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from pyairtable_server.realtime.access import authenticate_viewer, subscriber_for
from pyairtable_server.settings import Settings

from .backend import PASSWORD, Actor
from .live import Live, SseFrame, authed, live_server, receive, sse_frames, subscribe
from .process import CLI, clean_environment

pytestmark = pytest.mark.anyio


async def _open(live: Live, actor: Actor) -> Any:
    ws = await live.connect().__aenter__()
    await authed(ws, actor.access_token)
    await subscribe(ws, "all")
    return ws


async def _closed_with(ws: ClientConnection, within: float = 20) -> int:
    """The close code the server ends ``ws`` with (events before it are skipped)."""
    with pytest.raises(ConnectionClosed) as closed:  # noqa: PT012 - skipping frames until then
        with anyio.fail_after(within):
            while True:
                await receive(ws, within)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def _still_open(ws: ClientConnection) -> None:
    await ws.send(json.dumps({"type": "ping", "timestamp": 7}))
    while (message := await receive(ws))["type"] != "pong":
        assert message["type"] == "event"


@asynccontextmanager
async def _sse(live: Live, actor: Actor) -> AsyncIterator[AsyncIterator[SseFrame]]:
    async with live.api.client.stream(
        "GET", f"{live.origin}/events", headers=actor.headers
    ) as response:
        assert response.status_code == 200
        yield sse_frames(response)


async def _last_frames(frames: AsyncIterator[SseFrame], within: float = 20) -> list[SseFrame]:
    """Every non-comment frame until the server ends the stream."""
    seen: list[SseFrame] = []
    with anyio.fail_after(within):
        async for frame in frames:
            if frame.comment is None:
                seen.append(frame)
    return seen


def _ended_by_auth_error(frames: list[SseFrame]) -> bool:
    return (
        bool(frames) and frames[-1].event == "error" and frames[-1].json()["type"] == "AUTH_ERROR"
    )


@pytest.fixture
async def live(make_settings: Callable[..., Settings]) -> AsyncIterator[Live]:
    async with live_server(
        make_settings(refresh_grace_seconds=0, realtime_sse_heartbeat_seconds=0.5)
    ) as running:
        yield running


async def test_logout_closes_that_sessions_socket_and_stream_and_no_other(live: Live) -> None:
    owner = await live.api.actor()
    other_session = await live.api.login(owner.email)
    ended_ws = await _open(live, owner)
    kept_ws = await _open(live, other_session)
    try:
        async with _sse(live, owner) as frames:
            logout = await live.api.client.post("/auth/logout", headers=owner.headers)
            assert logout.status_code == 204
            assert await _closed_with(ended_ws) == 4401
            assert _ended_by_auth_error(await _last_frames(frames))
        await _still_open(kept_ws)
    finally:
        await ended_ws.close()
        await kept_ws.close()


async def test_a_password_change_closes_every_other_sessions_streams(live: Live) -> None:
    owner = await live.api.actor()
    elsewhere = await live.api.login(owner.email)
    mine = await _open(live, owner)
    theirs = await _open(live, elsewhere)
    try:
        async with _sse(live, elsewhere) as frames:
            changed = await live.api.client.post(
                "/auth/change-password",
                json={"current_password": PASSWORD, "new_password": "a brand new secret"},
                headers=owner.headers,
            )
            assert changed.status_code == 204
            assert await _closed_with(theirs) == 4401
            assert _ended_by_auth_error(await _last_frames(frames))
        await _still_open(mine)
    finally:
        await mine.close()
        await theirs.close()


async def test_refresh_token_reuse_closes_the_familys_streams(live: Live) -> None:
    owner = await live.api.actor()
    ws = await _open(live, owner)
    try:
        first = await live.api.client.post(
            "/auth/refresh", json={"refresh_token": owner.refresh_token}
        )
        assert first.status_code == 200
        reused = await live.api.client.post(
            "/auth/refresh", json={"refresh_token": owner.refresh_token}
        )
        assert reused.status_code == 401
        assert await _closed_with(ws) == 4401
    finally:
        await ws.close()


async def test_deactivating_an_account_closes_all_its_streams(
    live: Live, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    owner = await live.api.actor()
    second = await live.api.login(owner.email)
    sockets = [await _open(live, owner), await _open(live, second)]
    bystander = await live.api.actor()
    bystander_ws = await _open(live, bystander)
    settings = make_settings()
    env = clean_environment(
        **({"PYAIRTABLE_DATABASE_URL": settings.database_url} if settings.database_url else {})
    )
    try:
        done = await anyio.run_process(
            [CLI, "deactivate-user", owner.email, "--data-dir", str(settings.data_dir)],
            env=env,
            cwd=tmp_path,
            check=False,
            stderr=subprocess.STDOUT,
        )
        assert done.returncode == 0, done.stdout.decode()
        assert [await _closed_with(ws) for ws in sockets] == [4401, 4401]
        await _still_open(bystander_ws)
        login = await live.api.client.post(
            "/auth/login", json={"email": owner.email, "password": PASSWORD}
        )
        assert login.status_code == 401
    finally:
        for ws in [*sockets, bystander_ws]:
            await ws.close()


async def test_a_connection_that_authenticated_just_before_logout_is_closed_on_attach(
    live: Live,
) -> None:
    """The session ended between the token check and the attach, after the hub read the
    notice: the hub's memory of recent notices still catches it."""
    owner = await live.api.actor()
    services = live.services
    viewer = await authenticate_viewer(services, owner.access_token)
    logout = await live.api.client.post("/auth/logout", headers=owner.headers)
    assert logout.status_code == 204
    notice = viewer.authenticated_at + 1
    with anyio.fail_after(10):
        while services.hub.position < notice:  # noqa: ASYNC110 - the hub has no event to await
            await anyio.sleep(0.01)
    subscriber = subscriber_for(viewer, outbox_size=services.settings.realtime_outbox_size)
    services.hub.attach(subscriber)
    try:
        with anyio.fail_after(10):
            await subscriber.wait_closed()
    finally:
        services.hub.detach(subscriber)
        subscriber.release()
    assert subscriber.close_code == 4401
