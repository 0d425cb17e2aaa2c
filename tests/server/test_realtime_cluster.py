"""Two server instances on one database: a change written through A reaches subscribers on B.

Live fan-out goes through Redis pub/sub; a fault-injecting TCP proxy between the instances and
Redis plays a Redis restart. Each instance fills gaps from the event log, so nothing is lost.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from typing import Any

import anyio
import pytest
import redis
from websockets.exceptions import ConnectionClosed

from pyairtable_integration.testing import tcp_proxy
from pyairtable_server.settings import Settings

from .live import authed, events_until, live_server, receive, subscribe, write_records

pytestmark = pytest.mark.anyio

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


@pytest.fixture
def redis_channel() -> str:
    """A pub/sub channel of this test's own; Redis is required on CI."""
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        reason = f"Redis at {REDIS_HOST}:{REDIS_PORT} is not reachable ({exc})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI requires Redis", pytrace=False)
        pytest.skip(reason)
    finally:
        client.close()
    return "pyairtable-test-" + secrets.token_hex(6)


def _seqs(events: list[dict[str, Any]]) -> list[int]:
    return [event["seq"] for event in events]


async def test_a_change_through_one_instance_reaches_subscribers_of_another(
    make_settings: Callable[..., Settings], redis_channel: str
) -> None:
    async with tcp_proxy(REDIS_HOST, REDIS_PORT) as proxy:
        # A poll far slower than the test's patience: what arrives promptly came through Redis.
        settings = make_settings(
            redis_url=f"redis://127.0.0.1:{proxy.port}/0",
            realtime_channel=redis_channel,
            realtime_poll_interval_seconds=600,
        )
        async with live_server(settings) as a, live_server(settings) as b:
            owner, table = await a.api.new_table()
            async with b.connect() as ws:
                await authed(ws, owner.access_token)
                await subscribe(ws, "records", channel="record")
                written = await write_records(a.api, owner, table["id"], 20)
                received = await events_until(ws, 20, within=20)
    assert [event["aggregate_id"] for event in received] == written
    assert _seqs(received) == sorted(set(_seqs(received)))


async def test_events_written_while_redis_is_away_still_arrive_once_and_in_order(
    make_settings: Callable[..., Settings], redis_channel: str
) -> None:
    async with tcp_proxy(REDIS_HOST, REDIS_PORT) as proxy:
        settings = make_settings(
            redis_url=f"redis://127.0.0.1:{proxy.port}/0",
            realtime_channel=redis_channel,
            realtime_poll_interval_seconds=600,
        )
        async with live_server(settings) as a, live_server(settings) as b:
            owner, table = await a.api.new_table()
            async with b.connect() as ws:
                await authed(ws, owner.access_token)
                first = await subscribe(ws, "records", channel="record")
                before = await write_records(a.api, owner, table["id"], 5)
                received = await events_until(ws, 5)
                proxy.cut()
                during = await write_records(a.api, owner, table["id"], 150)
                proxy.restore()
                # B learns of the outage's events from the log once it is back on Redis.
                received += await events_until(ws, 150, within=60)
                after = await write_records(a.api, owner, table["id"], 5)
                received += await events_until(ws, 5, within=30)
    assert [event["aggregate_id"] for event in received] == before + during + after
    seqs = _seqs(received)
    assert seqs == list(range(first["position"] + 1, first["position"] + 1 + len(seqs)))


async def test_without_redis_instances_still_share_events_through_the_log(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(realtime_poll_interval_seconds=0.1)
    async with live_server(settings) as a, live_server(settings) as b:
        owner, table = await a.api.new_table()
        async with b.connect() as ws:
            await authed(ws, owner.access_token)
            await subscribe(ws, "records", channel="record")
            written = await write_records(a.api, owner, table["id"], 30)
            received = await events_until(ws, 30)
    assert [event["aggregate_id"] for event in received] == written


async def test_health_reports_a_redis_outage_without_calling_realtime_down(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(redis_url="redis://127.0.0.1:1/0", realtime_poll_interval_seconds=0.1)
    async with live_server(settings) as live:
        owner, table = await live.api.new_table()
        realtime = (await live.api.client.get("/health/realtime")).json()
        async with live.connect() as ws:
            await authed(ws, owner.access_token)
            await subscribe(ws, "records", channel="record")
            written = await write_records(live.api, owner, table["id"], 3)
            received = await events_until(ws, 3)
    assert realtime["status"] == "ok"
    assert "Redis unavailable" in realtime["error"]
    assert [event["aggregate_id"] for event in received] == written


async def test_forged_messages_on_the_channel_neither_grant_membership_nor_hide_events(
    make_settings: Callable[..., Settings], redis_channel: str
) -> None:
    """Whoever can PUBLISH on the channel can only make instances read the log early."""
    settings = make_settings(
        redis_url=f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
        realtime_channel=redis_channel,
        realtime_poll_interval_seconds=600,
    )
    async with live_server(settings) as a, live_server(settings) as b:
        owner = await a.api.actor()
        workspace_id = (await a.api.workspace(owner))["id"]
        base = await a.api.base(owner, workspace_id)
        table = await a.api.table(owner, base["id"])
        outsider = await a.api.actor()
        head = (await a.api.client.get("/events", headers=owner.headers)).json()["next_since"]
        async with b.connect() as member_ws, b.connect() as outsider_ws:
            await authed(member_ws, owner.access_token)
            await subscribe(member_ws, "all")
            await authed(outsider_ws, outsider.access_token)
            await subscribe(outsider_ws, "all")
            forged_member = {
                "seq": head + 1,
                "id": "evtForgedForgedForged",
                "type": "workspace.member_added",
                "channel": "workspace",
                "workspace_id": workspace_id,
                "aggregate_type": "workspace",
                "aggregate_id": workspace_id,
                "payload": {"member": {"user_id": outsider.id, "role": "owner"}},
            }
            publisher = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_timeout=3)
            try:
                for message in (
                    # The shape events once travelled in, then hints of a head far ahead,
                    # of the very next seq (before it exists), and of nonsense.
                    {"from": "forger", "events": [{"event": forged_member, "recipients": []}]},
                    {"from": "forger", "head": 10**12},
                    {"from": "forger", "head": head + 1},
                    {"from": "forger", "head": "everything"},
                ):
                    publisher.publish(redis_channel, json.dumps(message))
            finally:
                publisher.close()
            written = await write_records(a.api, owner, table["id"], 5)
            received = await events_until(member_ws, 5, within=20)
            # Both sockets' events are queued in the same dispatch: anything the outsider was
            # sent is queued before this pong.
            await outsider_ws.send(json.dumps({"type": "ping", "timestamp": 1}))
            before_pong = []
            while (message := await receive(outsider_ws))["type"] != "pong":
                before_pong.append(message)
    assert [event["aggregate_id"] for event in received] == written
    assert _seqs(received) == list(range(head + 1, head + 6))
    assert before_pong == []


async def _closed_code(ws: Any, within: float) -> int:
    with pytest.raises(ConnectionClosed) as closed:  # noqa: PT012 - frames are skipped until then
        with anyio.fail_after(within):
            while True:
                await receive(ws, within)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


@pytest.mark.parametrize("through", ["redis", "log"])
async def test_a_logout_on_one_instance_closes_the_sessions_socket_on_another(
    make_settings: Callable[..., Settings], request: pytest.FixtureRequest, through: str
) -> None:
    if through == "redis":
        # A poll far slower than the test's patience: a close that arrives came through Redis.
        settings = make_settings(
            redis_url=f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
            realtime_channel=request.getfixturevalue("redis_channel"),
            realtime_poll_interval_seconds=600,
        )
    else:
        settings = make_settings(realtime_poll_interval_seconds=0.1)
    async with live_server(settings) as a, live_server(settings) as b:
        owner = await a.api.actor()
        async with b.connect() as ws:
            await authed(ws, owner.access_token)
            await subscribe(ws, "all")
            logout = await a.api.client.post("/auth/logout", headers=owner.headers)
            assert logout.status_code == 204
            assert await _closed_code(ws, within=20) == 4401


async def test_a_new_member_gets_nothing_from_before_joining_even_from_a_lagging_instance(
    make_settings: Callable[..., Settings],
) -> None:
    """B learns of A's writes late (no Redis, a slow poll): when it does, a member who joined
    meanwhile gets the workspace's events from the joining on, not the backlog before it."""
    settings = make_settings(realtime_poll_interval_seconds=600)
    async with live_server(settings) as a, live_server(settings) as b:
        owner = await a.api.actor()
        workspace_id = (await a.api.workspace(owner))["id"]
        base = await a.api.base(owner, workspace_id)
        table = await a.api.table(owner, base["id"])
        await write_records(a.api, owner, table["id"], 3, text="-before")
        newcomer = await a.api.actor()
        await a.api.add_member(owner, workspace_id, newcomer, "editor")
        async with b.connect() as ws:
            await authed(ws, newcomer.access_token)
            await subscribe(ws, "all")
            # A write through B makes B's hub read everything it had missed from the log.
            late = await write_records(b.api, owner, table["id"], 1, text="-after")
            received: list[dict[str, Any]] = []
            while not received or received[-1]["aggregate_id"] != late[0]:
                received += await events_until(ws, 1)
    assert received[0]["type"] == "workspace.member_added"
    assert received[0]["payload"]["member"]["user_id"] == newcomer.id
    assert [event["type"] for event in received[1:]] == ["record.created"]
