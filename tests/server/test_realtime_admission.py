"""Caps on realtime connections: per user, per IP (unauthenticated sockets too), in all (SSE
too), and a rate limit on WebSocket handshakes. One client cannot take every slot."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import httpx2
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from pyairtable_server.realtime.admission import Admission, Refused
from pyairtable_server.settings import Settings

from .backend import Actor
from .clocks import hold_request_limiter_clock
from .live import Live, authed, live_server, receive, subscribe

pytestmark = pytest.mark.anyio


async def _closed_code(ws: ClientConnection) -> int:
    with pytest.raises(ConnectionClosed) as closed:  # noqa: PT012 - frames skipped until then
        with anyio.fail_after(10):
            while True:
                await receive(ws)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


@asynccontextmanager
async def _sse(live: Live, actor: Actor) -> AsyncIterator[httpx2.Response]:
    async with live.api.client.stream(
        "GET", f"{live.origin}/events", headers=actor.headers
    ) as response:
        yield response


async def _socket(stack: AsyncExitStack, live: Live, actor: Actor | None) -> Any:
    ws = await stack.enter_async_context(live.connect())
    if actor is not None:
        await authed(ws, actor.access_token)
        await subscribe(ws, "all")
    return ws


async def test_one_user_holds_at_most_its_share_of_sockets_and_streams(
    make_settings: Callable[..., Settings],
) -> None:
    async with live_server(make_settings(realtime_max_connections_per_user=2)) as live:
        greedy = await live.api.actor()
        other = await live.api.actor()
        async with AsyncExitStack() as stack:
            await _socket(stack, live, greedy)
            async with _sse(live, greedy) as stream:
                assert stream.status_code == 200
                extra = await stack.enter_async_context(live.connect())
                await extra.send(json.dumps({"type": "auth", "token": greedy.access_token}))
                assert await _closed_code(extra) == 1013
                async with _sse(live, greedy) as refused:
                    assert refused.status_code == 429
                    body = json.loads(await refused.aread())
                    assert body["error"]["type"] == "RATE_LIMITED"
                    assert int(refused.headers["retry-after"]) >= 1
                # Everybody else still gets in.
                await _socket(stack, live, other)


async def test_unauthenticated_sockets_count_against_the_address(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(realtime_max_connections_per_ip=2, realtime_auth_timeout_seconds=60)
    async with live_server(settings) as live:
        user = await live.api.actor()
        async with AsyncExitStack() as stack:
            for _ in range(2):
                await _socket(stack, live, None)  # connected, never authenticated
            third = await stack.enter_async_context(live.connect())
            assert await _closed_code(third) == 1013
            async with _sse(live, user) as refused:
                assert refused.status_code == 429


async def test_sse_streams_respect_and_count_against_the_global_cap(
    make_settings: Callable[..., Settings],
) -> None:
    async with live_server(make_settings(realtime_max_connections=1)) as live:
        user = await live.api.actor()
        async with _sse(live, user) as first:
            assert first.status_code == 200
            async with _sse(live, user) as second:
                assert second.status_code == 503
                body = json.loads(await second.aread())
            assert body["error"]["type"] == "SERVICE_UNAVAILABLE"
            assert int(second.headers["retry-after"]) >= 1
            async with live.connect() as ws:
                assert await _closed_code(ws) == 1013


async def test_a_stream_gives_its_slot_back_when_it_ends(
    make_settings: Callable[..., Settings],
) -> None:
    async with live_server(make_settings(realtime_max_connections_per_user=1)) as live:
        user = await live.api.actor()
        async with _sse(live, user) as first:
            assert first.status_code == 200
        # The server notices the client left shortly after; then the slot is free again.
        with anyio.fail_after(20):
            while True:
                async with _sse(live, user) as again:
                    if again.status_code == 200:
                        break
                await anyio.sleep(0.05)


async def test_websocket_handshakes_count_against_the_ip_rate_limit(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Held still, the limiter's minute cannot end between the handshakes (``clocks``).
    hold_request_limiter_clock(monkeypatch)
    settings = make_settings(rate_limit_per_ip="3/minute")
    async with live_server(settings) as live, AsyncExitStack() as stack:
        for _ in range(3):
            await stack.enter_async_context(live.connect())
        with pytest.raises(InvalidStatus) as refused:
            await stack.enter_async_context(live.connect())
    response = refused.value.response
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert json.loads(response.body)["error"]["type"] == "RATE_LIMITED"


# --- the caps' arithmetic, without a server ---------------------------------------------------


def test_a_ticket_counts_against_its_address_then_its_user_and_gives_both_back() -> None:
    admission = Admission(total=3, per_ip=2, per_user=1)
    first = admission.admit("10.0.0.1")
    second = admission.admit("10.0.0.1")
    with pytest.raises(Refused) as by_ip:
        admission.admit("10.0.0.1")
    assert not by_ip.value.overloaded
    first.bind("usr1")
    with pytest.raises(Refused):
        second.bind("usr1")  # the user's one slot is taken
    third = admission.admit("10.0.0.2")
    with pytest.raises(Refused) as full:
        admission.admit("10.0.0.3")
    assert full.value.overloaded
    first.release()
    first.release()  # idempotent
    assert admission.held == 2
    assert admission.connections_of("usr1") == 0
    second.bind("usr1")
    assert admission.connections_of("usr1") == 1
    for ticket in (second, third):
        ticket.release()
    assert admission.held == 0
