"""Resuming ``/ws`` subscriptions: after a dropped socket, across a restart, beyond retention;
token expiry and renewal; a slow consumer is cut off without slowing the others (§8)."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from pyairtable_server import maintenance
from pyairtable_server.realtime.hub import CLOSE_OVERLOADED, CLOSE_TOKEN_EXPIRED
from pyairtable_server.settings import REALTIME_MIN_OUTBOX_SIZE as MIN_OUTBOX
from pyairtable_server.settings import Settings

from .backend import Actor, Api
from .live import (
    Writes,
    authed,
    events_until,
    live_server,
    receive,
    receive_type,
    subscribe,
    write_records,
)

pytestmark = pytest.mark.anyio


async def _read_until_closed(ws: ClientConnection, into: list[dict[str, Any]]) -> None:
    while True:
        message = await receive(ws, within=30)
        if message["type"] == "event":
            into.append(message["event"])


def _contiguous(events: list[dict[str, Any]], after: int) -> bool:
    return [event["seq"] for event in events] == list(range(after + 1, after + 1 + len(events)))


async def test_resume_after_a_dropped_socket_replays_1000_missed_events_once_in_order(
    make_settings: Callable[..., Settings],
) -> None:
    async with live_server(make_settings()) as live:
        owner, table = await live.api.new_table()
        async with live.connect() as ws:
            await authed(ws, owner.access_token)
            await subscribe(ws, "records", channel="record")
            await write_records(live.api, owner, table["id"], 3)
            seen = await events_until(ws, 3)
        last = seen[-1]["seq"]
        missed = await write_records(live.api, owner, table["id"], 1000)
        async with live.connect() as ws, anyio.create_task_group() as writers:
            await authed(ws, owner.access_token)
            confirmed = await subscribe(ws, "records", channel="record", since=last)
            # More changes land while the replay is under way: the seam must hold.
            extra: list[str] = []

            async def write_more() -> None:
                extra.extend(await write_records(live.api, owner, table["id"], 50))

            writers.start_soon(write_more)
            received = await events_until(ws, 1050, within=60)
    assert confirmed["recovered"] is True
    assert [event["aggregate_id"] for event in received] == missed + extra
    assert _contiguous(received, last)


async def test_resume_across_a_server_restart(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    async with live_server(settings) as live:
        owner, table = await live.api.new_table()
        async with live.connect() as ws:
            await authed(ws, owner.access_token)
            await subscribe(ws, "records", channel="record")
            await write_records(live.api, owner, table["id"], 2)
            last = (await events_until(ws, 2))[-1]["seq"]
            written = await write_records(live.api, owner, table["id"], 20)
    async with live_server(settings) as restarted:
        later = await write_records(restarted.api, owner, table["id"], 5)
        async with restarted.connect() as ws:
            await authed(ws, owner.access_token)
            await subscribe(ws, "records", channel="record", since=last)
            received = await events_until(ws, 25)
    assert [event["aggregate_id"] for event in received] == written + later
    assert _contiguous(received, last)


async def test_a_socket_open_while_the_server_stops_is_closed_and_can_resume(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    async with live_server(settings) as live:
        owner, table = await live.api.new_table()
        ws = await live.connect()
        await authed(ws, owner.access_token)
        await subscribe(ws, "records", channel="record")
        await write_records(live.api, owner, table["id"], 1)
        last = (await events_until(ws, 1))[-1]["seq"]
    with pytest.raises(ConnectionClosed):
        await receive(ws)
    async with live_server(settings) as restarted:
        written = await write_records(restarted.api, owner, table["id"], 3)
        async with restarted.connect() as again:
            await authed(again, owner.access_token)
            await subscribe(again, "records", channel="record", since=last)
            received = await events_until(again, 3)
    assert [event["aggregate_id"] for event in received] == written


async def test_resuming_beyond_retention_says_reset_then_goes_live(
    make_settings: Callable[..., Settings],
) -> None:
    async with live_server(make_settings()) as live:
        owner, table = await live.api.new_table()
        await write_records(live.api, owner, table["id"], 10)
        pruned = live.services.settings.model_copy(update={"event_retention_count": 2})
        await maintenance.run_once(live.services.db, pruned)
        async with live.connect() as ws:
            await authed(ws, owner.access_token)
            await ws.send(
                json.dumps(
                    {"type": "subscribe", "subscription_id": "s", "channel": "record", "since": 1}
                )
            )
            confirmed = await receive_type(ws, "subscription_confirmed")
            reset = await receive_type(ws, "subscription_reset")
            [written] = await write_records(live.api, owner, table["id"], 1)
            [event] = await events_until(ws, 1)
    assert confirmed["recovered"] is False
    assert reset["subscription_id"] == "s"
    assert event["aggregate_id"] == written


async def test_an_expired_token_closes_the_socket_with_4401(
    writes: Writes, make_settings: Callable[..., Settings]
) -> None:
    async with live_server(make_settings(access_token_ttl_seconds=3)) as live:
        owner = await live.api.actor()
        async with live.connect() as ws:
            await authed(ws, owner.access_token)
            with pytest.raises(ConnectionClosed) as closed:
                await receive(ws, within=15)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == CLOSE_TOKEN_EXPIRED


async def _fresh_token(api: Api, actor: Actor) -> None:
    """Give ``actor`` an access token issued now (and the rotated refresh token)."""
    pair = await api.post(actor, "/auth/refresh", {"refresh_token": actor.refresh_token}, 200)
    actor.access_token, actor.refresh_token = pair["access_token"], pair["refresh_token"]


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def _sleep_until(instant: datetime) -> None:
    await anyio.sleep(max(0.0, (instant - datetime.now(UTC)).total_seconds()))


async def test_renewing_the_token_keeps_the_socket_past_the_first_expiry(
    make_settings: Callable[..., Settings],
) -> None:
    # The socket is renewed halfway through the first token's life and used after its expiry:
    # each of the two steps (a refresh and an auth message; a one-record write and its event)
    # has half the lifetime, seconds for what takes milliseconds. The waits are until the
    # expiries the server announced, so a slow set-up spends none of it.
    lifetime = 10
    async with live_server(make_settings(access_token_ttl_seconds=lifetime)) as live:
        api = live.api
        owner, table = await api.new_table()
        await _fresh_token(api, owner)
        async with live.connect() as ws:
            first = _instant((await authed(ws, owner.access_token))["expires_at"])
            await subscribe(ws, "records", channel="record")
            await _sleep_until(first - timedelta(seconds=lifetime / 2))
            await _fresh_token(api, owner)
            second = _instant((await authed(ws, owner.access_token))["expires_at"])
            assert second > first
            await _sleep_until(first + timedelta(seconds=0.1))  # the first token has expired
            [written] = await write_records(api, owner, table["id"], 1)
            [event] = await events_until(ws, 1)
            assert event["aggregate_id"] == written
            with pytest.raises(ConnectionClosed) as closed:
                await receive(ws, within=lifetime + 60)
            closed_at = datetime.now(UTC)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == CLOSE_TOKEN_EXPIRED
    # Closed for the renewed token's expiry, not the first's (however late the first's check).
    assert closed_at >= second


async def test_a_token_of_another_user_cannot_renew_a_socket(
    make_settings: Callable[..., Settings],
) -> None:
    async with live_server(make_settings()) as live:
        owner = await live.api.actor()
        other = await live.api.actor()
        async with live.connect() as ws:
            await authed(ws, owner.access_token)
            await ws.send(json.dumps({"type": "auth", "token": other.access_token}))
            with pytest.raises(ConnectionClosed) as closed:
                await receive(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == CLOSE_TOKEN_EXPIRED


async def test_a_slow_consumer_is_cut_off_and_resumes_while_the_others_get_everything(
    writes: Writes, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(realtime_outbox_size=MIN_OUTBOX)
    async with live_server(settings, send_buffer=16_384) as live:
        owner, table = await live.api.new_table()
        # A client that stops reading: a tiny receive buffer and a one-frame queue.
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.connect(("127.0.0.1", live.port))
        raw.setblocking(False)
        # The other reads eagerly (no client-side queue limit), however busy the test's loop is.
        async with (
            live.connect(sock=raw, max_queue=1) as slow,
            live.connect(max_queue=None) as fast,
        ):
            await authed(slow, owner.access_token)
            await subscribe(slow, "records", channel="record")
            await authed(fast, owner.access_token)
            start = (await subscribe(fast, "records", channel="record"))["position"]
            hub = live.services.hub
            everything: list[dict[str, Any]] = []

            async def read_fast() -> None:
                with anyio.fail_after(120):
                    while len(everything) < 400:
                        message = await receive(fast, within=60)
                        if message["type"] == "event":
                            everything.append(message["event"])

            # The writer waits for the consumer that keeps up after each batch: a consumer is
            # cut off only when it falls more than an outbox behind, and on a loaded machine
            # (the server, both clients and the writer share one loop) a fast reader could fall
            # that far behind a writer that never waits.
            written: list[str] = []
            async with anyio.create_task_group() as readers:
                readers.start_soon(read_fast)
                for _ in range(4):
                    written += await write_records(
                        live.api, owner, table["id"], 100, text="x" * 20_000
                    )
                    with anyio.fail_after(60):
                        while len(everything) < len(written):  # noqa: ASYNC110 - a plain list
                            await anyio.sleep(0.01)
            with anyio.fail_after(30):
                while hub.stats.overloaded == 0:  # noqa: ASYNC110 - the hub has no event for it
                    await anyio.sleep(0.05)
            got: list[dict[str, Any]] = []
            with pytest.raises(ConnectionClosed) as closed:
                await _read_until_closed(slow, got)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == CLOSE_OVERLOADED
        assert [event["aggregate_id"] for event in everything] == written
        assert len(got) < 400
        last = got[-1]["seq"] if got else start
        async with live.connect() as again:
            await authed(again, owner.access_token)
            await subscribe(again, "records", channel="record", since=last)
            rest = await events_until(again, 400 - len(got), within=60)
    assert [event["aggregate_id"] for event in got + rest] == written


async def test_a_new_member_resuming_from_zero_replays_nothing_from_before_joining(
    make_settings: Callable[..., Settings],
) -> None:
    async with live_server(make_settings()) as live:
        owner = await live.api.actor()
        workspace_id = (await live.api.workspace(owner))["id"]
        table = await live.api.table(owner, (await live.api.base(owner, workspace_id))["id"])
        await write_records(live.api, owner, table["id"], 3, text="-before")
        newcomer = await live.api.actor()
        await live.api.add_member(owner, workspace_id, newcomer, "viewer")
        async with live.connect() as ws:
            await authed(ws, newcomer.access_token)
            await subscribe(ws, "all", since=0)
            late = await write_records(live.api, owner, table["id"], 1, text="-after")
            received: list[dict[str, Any]] = []
            while not received or received[-1]["aggregate_id"] != late[0]:
                received += await events_until(ws, 1)
    assert [event["type"] for event in received] == ["workspace.member_added", "record.created"]
