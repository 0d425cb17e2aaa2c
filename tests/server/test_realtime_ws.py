"""``/ws`` against a real uvicorn: auth, subscriptions, filters, RBAC, resume, overload (§8)."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from pyairtable_server.settings import Settings

from .backend import Actor, Api
from .live import (
    Live,
    Writes,
    authed,
    events_until,
    live_server,
    receive,
    receive_type,
    spy_on_writes,
    subscribe,
    write_records,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
async def live(make_settings: Callable[..., Settings]) -> AsyncIterator[Live]:
    async with live_server(make_settings(realtime_auth_timeout_seconds=1.0)) as running:
        yield running


@pytest.fixture(params=["direct", "asgi"])
def writes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Writes:
    """Frames written straight to uvicorn's transports (what ``serve`` runs), or through ASGI
    (any other server)."""
    return spy_on_writes(monkeypatch, request.param)


async def _table(api: Api) -> tuple[Actor, dict[str, Any], dict[str, Any]]:
    owner = await api.actor()
    workspace = await api.workspace(owner)
    base = await api.base(owner, workspace["id"])
    table = await api.table(owner, base["id"])
    return owner, workspace, table


async def _record(api: Api, owner: Actor, table_id: str, name: str) -> dict[str, Any]:
    body: dict[str, Any] = await api.post(
        owner, "/records", {"table_id": table_id, "fields": {"Name": name}}
    )
    return body


async def test_the_first_message_authenticates_and_events_follow(
    writes: Writes, live: Live
) -> None:
    owner, workspace, table = await _table(live.api)
    async with live.connect() as ws:
        ok = await authed(ws, owner.access_token)
        assert ok["expires_at"].endswith("Z")
        confirmed = await subscribe(ws, "records", channel="record")
        assert confirmed["recovered"] is False
        record = await _record(live.api, owner, table["id"], "Ada")
        message = await receive_type(ws, "event")
    assert message["subscription_id"] == "records"
    event = message["event"]
    assert event["type"] == "record.created"
    assert event["aggregate_id"] == record["id"]
    assert event["seq"] > confirmed["position"]
    assert event["workspace_id"] == workspace["id"]
    # auth_ok, the confirmation and the event, each written as soon as it was queued
    assert writes.direct == (3 if writes.writer == "direct" else 0)


async def test_a_query_token_authenticates_too(live: Live) -> None:
    owner, _, table = await _table(live.api)
    async with live.connect(owner.access_token) as ws:
        assert (await receive(ws))["type"] == "auth_ok"
        await subscribe(ws, channel="record")
        await _record(live.api, owner, table["id"], "Ada")
        assert (await receive_type(ws, "event"))["event"]["type"] == "record.created"


@pytest.mark.parametrize(
    "first",
    [
        {"type": "auth", "token": "not-a-token"},
        {"type": "subscribe", "subscription_id": "s", "channel": "record"},
        "this is not json",
    ],
    ids=["bad-token", "not-auth-first", "garbage"],
)
async def test_a_socket_that_does_not_authenticate_is_closed_with_4401(
    live: Live, first: Any
) -> None:
    async with live.connect() as ws:
        await ws.send(first if isinstance(first, str) else json.dumps(first))
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401


async def test_a_silent_socket_is_closed_after_the_auth_timeout(live: Live) -> None:
    async with live.connect() as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws, within=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401


async def test_every_event_type_reaches_a_subscriber_as_the_log_has_it(live: Live) -> None:
    api = live.api
    owner = await api.actor()
    member = await api.actor()
    async with live.connect() as ws:
        await authed(ws, owner.access_token)
        await subscribe(ws, "all")
        workspace = await api.workspace(owner)
        wid = workspace["id"]
        headers = owner.headers
        await api.client.put(f"/workspaces/{wid}", json={"name": "Renamed"}, headers=headers)
        await api.add_member(owner, wid, member, "editor")
        await api.client.patch(
            f"/workspaces/{wid}/members/{member.id}", json={"role": "viewer"}, headers=headers
        )
        await api.client.delete(f"/workspaces/{wid}/members/{member.id}", headers=headers)
        base = await api.base(owner, wid)
        await api.client.put(f"/bases/{base['id']}", json={"name": "B2"}, headers=headers)
        table = await api.table(owner, base["id"])
        await api.client.put(f"/tables/{table['id']}", json={"name": "T2"}, headers=headers)
        field = await api.post(
            owner, "/fields", {"table_id": table["id"], "name": "Size", "type": "number"}
        )
        await api.client.put(f"/fields/{field['id']}", json={"name": "Big"}, headers=headers)
        view = await api.post(
            owner, "/views", {"table_id": table["id"], "name": "Grid", "type": "grid"}
        )
        await api.client.put(f"/views/{view['id']}", json={"name": "G2"}, headers=headers)
        record = await _record(api, owner, table["id"], "Ada")
        await api.client.patch(
            f"/records/{record['id']}", json={"fields": {"Name": "Bea"}}, headers=headers
        )
        await api.client.delete(f"/records/{record['id']}", headers=headers)
        await api.client.delete(f"/views/{view['id']}", headers=headers)
        await api.client.delete(f"/fields/{field['id']}", headers=headers)
        await api.client.delete(f"/tables/{table['id']}", headers=headers)
        await api.client.delete(f"/bases/{base['id']}", headers=headers)
        # Read before the workspace goes: afterwards its events are no longer the owner's to read.
        log = (await api.client.get("/events", params={"since": 0}, headers=headers)).json()
        await api.client.delete(f"/workspaces/{wid}", headers=headers)
        received = await events_until(ws, len(log["data"]) + 1)
    kinds = {event["type"] for event in received}
    assert kinds == {
        f"{channel}.{verb}"
        for channel in ("workspace", "base", "table", "field", "view", "record")
        for verb in ("created", "updated", "deleted")
    } | {"workspace.member_added", "workspace.member_updated", "workspace.member_removed"}
    assert received[:-1] == log["data"]
    assert received[-1]["type"] == "workspace.deleted"


async def test_filters_match_the_events_top_level_fields(live: Live) -> None:
    api = live.api
    owner, _, table = await _table(api)
    other = await api.table(owner, table["base_id"])
    mine = await _record(api, owner, table["id"], "here")
    async with live.connect() as ws:
        await authed(ws, owner.access_token)
        await subscribe(ws, "one-table", channel="record", filters={"table_id": table["id"]})
        await subscribe(ws, "one-record", filters={"aggregate_id": mine["id"]})
        await subscribe(ws, "fields", channel="field")
        await _record(api, owner, other["id"], "elsewhere")
        second = await _record(api, owner, table["id"], "not this one")
        await api.client.patch(
            f"/records/{mine['id']}", json={"fields": {"Name": "again"}}, headers=owner.headers
        )
        await api.post(owner, "/fields", {"table_id": other["id"], "name": "N", "type": "number"})
        seen: list[tuple[str, str, str]] = []
        while len(seen) < 4:
            message = await receive_type(ws, "event")
            event = message["event"]
            seen.append((message["subscription_id"], event["type"], event["aggregate_id"]))
    assert seen[:3] == [
        ("one-table", "record.created", second["id"]),
        ("one-table", "record.updated", mine["id"]),
        ("one-record", "record.updated", mine["id"]),
    ]
    assert seen[3][:2] == ("fields", "field.created")


async def test_a_subscriber_sees_only_its_own_workspaces(live: Live) -> None:
    api = live.api
    owner, _, table = await _table(api)
    stranger, _, stranger_table = await _table(api)
    async with live.connect() as ws:
        await authed(ws, stranger.access_token)
        await subscribe(ws, "everything")
        await _record(api, owner, table["id"], "secret")
        await _record(api, stranger, stranger_table["id"], "mine")
        event = (await receive_type(ws, "event"))["event"]
    assert event["table_id"] == stranger_table["id"]


@pytest.mark.parametrize("key", ["workspace_id", "base_id", "table_id"])
async def test_subscribing_to_a_foreign_scope_is_refused_with_4403(live: Live, key: str) -> None:
    api = live.api
    _, workspace, table = await _table(api)
    stranger = await api.actor()
    scope = {"workspace_id": workspace["id"], "base_id": table["base_id"], "table_id": table["id"]}
    async with live.connect() as ws:
        await authed(ws, stranger.access_token)
        await ws.send(
            json.dumps({"type": "subscribe", "subscription_id": "x", "filters": {key: scope[key]}})
        )
        error = await receive_type(ws, "subscription_error")
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)
    assert error["error"]["type"] == "PERMISSION_DENIED"
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


async def test_membership_changes_take_effect_on_live_subscriptions(live: Live) -> None:
    api = live.api
    owner, workspace, table = await _table(api)
    member = await api.actor()
    async with live.connect() as ws:
        await authed(ws, member.access_token)
        await subscribe(ws, "all")
        await _record(api, owner, table["id"], "before joining")
        await api.add_member(owner, workspace["id"], member, "viewer")
        added = (await receive_type(ws, "event"))["event"]
        assert added["type"] == "workspace.member_added"
        await _record(api, owner, table["id"], "while a member")
        assert (await receive_type(ws, "event"))["event"]["type"] == "record.created"
        response = await api.client.delete(
            f"/workspaces/{workspace['id']}/members/{member.id}", headers=owner.headers
        )
        assert response.status_code == 204
        removed = (await receive_type(ws, "event"))["event"]
        assert removed["type"] == "workspace.member_removed"
        await _record(api, owner, table["id"], "after leaving")
        # A marker in a workspace the member still has proves nothing else was queued before it.
        own = await api.workspace(member, "Mine")
        after = (await receive_type(ws, "event"))["event"]
    assert after["type"] == "workspace.created"
    assert after["workspace_id"] == own["id"]


async def test_a_removed_member_loses_a_subscription_scoped_to_that_workspace(live: Live) -> None:
    api = live.api
    owner, workspace, _ = await _table(api)
    member = await api.actor()
    await api.add_member(owner, workspace["id"], member, "editor")
    async with live.connect() as ws:
        await authed(ws, member.access_token)
        await subscribe(ws, "scoped", filters={"workspace_id": workspace["id"]})
        await api.client.delete(
            f"/workspaces/{workspace['id']}/members/{member.id}", headers=owner.headers
        )
        error = await receive_type(ws, "subscription_error")
        await ws.send(json.dumps({"type": "ping", "timestamp": 7}))
        pong = await receive_type(ws, "pong")
    assert error["subscription_id"] == "scoped"
    assert error["error"]["type"] == "PERMISSION_DENIED"
    assert pong["timestamp"] == 7


async def test_ping_unsubscribe_and_malformed_frames(writes: Writes, live: Live) -> None:
    owner, _, table = await _table(live.api)
    async with live.connect() as ws:
        await authed(ws, owner.access_token)
        await ws.send(json.dumps({"type": "ping", "timestamp": "t1"}))
        assert await receive(ws) == {"type": "pong", "timestamp": "t1"}
        await ws.send("{not json")
        error = await receive(ws)
        assert error["type"] == "error"
        assert error["error"]["type"] == "VALIDATION_ERROR"
        await ws.send(json.dumps({"type": "subscribe", "subscription_id": "s", "channel": "nope"}))
        assert (await receive(ws))["error"]["details"]["fields"]
        await subscribe(ws, "s", channel="record")
        await ws.send(json.dumps({"type": "unsubscribe", "subscription_id": "s"}))
        assert await receive(ws) == {"type": "unsubscribed", "subscription_id": "s"}
        await _record(live.api, owner, table["id"], "unheard")
        await ws.send(json.dumps({"type": "ping", "timestamp": "t2"}))
        assert await receive(ws) == {"type": "pong", "timestamp": "t2"}


async def test_a_binary_frame_closes_the_socket_with_1003(writes: Writes, live: Live) -> None:
    owner = await live.api.actor()
    async with live.connect() as ws:
        await authed(ws, owner.access_token)
        await ws.send(b"\x00\x01")
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1003


async def test_a_client_that_stops_reading_for_a_while_then_gets_every_event_in_order(
    writes: Writes, make_settings: Callable[..., Settings]
) -> None:
    # Small kernel buffers on both ends, so that the server's transport fills and pauses.
    async with live_server(make_settings(), send_buffer=16_384) as live:
        owner, table = await live.api.new_table()
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.connect(("127.0.0.1", live.port))
        raw.setblocking(False)
        async with live.connect(sock=raw, max_queue=1) as ws:
            await authed(ws, owner.access_token)
            await subscribe(ws, "records", channel="record")
            # ~1.2 MB of events, in 12 commits, while the client reads nothing: far more than
            # the buffers, far fewer events than the outbox holds.
            written: list[str] = []
            for _ in range(12):
                written += await write_records(live.api, owner, table["id"], 5, text="x" * 20_000)
            got = await events_until(ws, 60, within=60)
    assert [event["aggregate_id"] for event in got] == written
    if writes.writer == "direct":
        assert writes.waits > 0  # the transport did pause
