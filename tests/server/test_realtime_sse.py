"""``GET /events`` (Server-Sent Events) against a real uvicorn: frames, resume, reset (§8)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import pytest

from pyairtable_server import maintenance
from pyairtable_server.settings import Settings

from .backend import Actor, Api
from .live import Live, SseFrame, live_server, sse_frames

pytestmark = pytest.mark.anyio


@pytest.fixture
async def live(make_settings: Callable[..., Settings]) -> AsyncIterator[Live]:
    async with live_server(make_settings(realtime_sse_heartbeat_seconds=0.2)) as running:
        yield running


@asynccontextmanager
async def _stream(
    live: Live, actor: Actor | None, **params: Any
) -> AsyncIterator[tuple[httpx2.Response, AsyncIterator[SseFrame]]]:
    headers = dict(params.pop("headers", {}))
    if actor is not None:
        headers.update(actor.headers)
    async with live.api.client.stream(
        "GET", f"{live.origin}/events", params=params, headers=headers
    ) as response:
        yield response, sse_frames(response)


async def _next_event(frames: AsyncIterator[SseFrame], within: float = 10) -> SseFrame:
    with anyio.fail_after(within):
        async for frame in frames:
            if frame.comment is None:
                return frame
    raise AssertionError("the stream ended")


async def _table(api: Api) -> tuple[Actor, dict[str, Any]]:
    return await api.new_table()


async def _records(api: Api, owner: Actor, table_id: str, count: int) -> list[dict[str, Any]]:
    body = await api.post(
        owner,
        "/records/batch",
        {"table_id": table_id, "records": [{"fields": {"Name": f"r{i}"}} for i in range(count)]},
    )
    records: list[dict[str, Any]] = body["data"]
    return records


async def test_events_arrive_as_id_event_and_data(live: Live) -> None:
    owner, table = await _table(live.api)
    async with _stream(live, owner, channel="record", table_id=table["id"]) as (response, frames):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        [record] = await _records(live.api, owner, table["id"], 1)
        frame = await _next_event(frames)
    event = frame.json()
    assert frame.event == "record.created"
    assert frame.id == str(event["seq"])
    assert event["aggregate_id"] == record["id"]


async def test_a_heartbeat_comment_keeps_the_stream_alive(live: Live) -> None:
    owner = await live.api.actor()
    async with _stream(live, owner) as (_, frames):
        with anyio.fail_after(10):
            first = await anext(frames)
    assert first.comment is not None


async def test_the_token_may_come_in_the_query(live: Live) -> None:
    owner, table = await _table(live.api)
    async with _stream(live, None, token=owner.access_token) as (response, frames):
        assert response.status_code == 200
        await _records(live.api, owner, table["id"], 1)
        assert (await _next_event(frames)).event == "record.created"


@pytest.mark.parametrize("via", ["header", "query"])
async def test_last_event_id_resumes_without_loss_or_duplicates(live: Live, via: str) -> None:
    owner, table = await _table(live.api)
    async with _stream(live, owner, channel="record") as (_, frames):
        await _records(live.api, owner, table["id"], 3)
        seen = [await _next_event(frames) for _ in range(3)]
    last = seen[-1].id
    assert last is not None
    await _records(live.api, owner, table["id"], 5)
    resume: dict[str, Any] = (
        {"headers": {"Last-Event-ID": last}} if via == "header" else {"last_event_id": last}
    )
    async with _stream(live, owner, channel="record", **resume) as (_, frames):
        missed = [await _next_event(frames) for _ in range(5)]
        await _records(live.api, owner, table["id"], 1)
        live_one = await _next_event(frames)
    seqs = [int(frame.id or 0) for frame in [*missed, live_one]]
    assert seqs == list(range(int(last) + 1, int(last) + 7))


async def test_an_id_beyond_retention_gets_a_reset_frame(live: Live) -> None:
    owner, table = await _table(live.api)
    await _records(live.api, owner, table["id"], 10)
    settings = live.services.settings.model_copy(update={"event_retention_count": 2})
    await maintenance.run_once(live.services.db, settings)
    async with _stream(live, owner, headers={"Last-Event-ID": "1"}) as (_, frames):
        frame = await _next_event(frames)
        await _records(live.api, owner, table["id"], 1)
        after = await _next_event(frames)
    assert frame.event == "reset"
    assert frame.id == str(frame.json()["position"])
    assert after.event == "record.created"
    assert int(after.id or 0) > int(frame.id or 0)


async def test_refusals_are_plain_json_errors(live: Live) -> None:
    owner = await live.api.actor()
    _, table = await _table(live.api)
    async with _stream(live, None) as (response, _):
        await response.aread()
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "AUTH_ERROR"
    async with _stream(live, owner, table_id=table["id"]) as (response, _):
        await response.aread()
        assert response.status_code == 404
    async with _stream(live, owner, headers={"Last-Event-ID": "yesterday"}) as (response, _):
        await response.aread()
        assert response.status_code == 422
    async with _stream(live, owner, channel="bogus") as (response, _):
        await response.aread()
        assert response.status_code == 422


async def test_the_stream_ends_when_the_token_expires(
    make_settings: Callable[..., Settings],
) -> None:
    async with live_server(make_settings(access_token_ttl_seconds=3)) as live:
        owner = await live.api.actor()
        async with _stream(live, owner) as (response, frames):
            assert response.status_code == 200
            with anyio.fail_after(15):
                async for _ in frames:
                    pass
