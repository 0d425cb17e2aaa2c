"""The realtime connection owns its send buffer (bounded), shares one reader per transport, and
alone applies what the transports read (async iterators of frames that know nothing of it)."""

from __future__ import annotations

import ast
import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pyairtable_integration import NotFoundError, create_integration, realtime
from pyairtable_integration._clock import SystemClock
from pyairtable_integration.realtime import Reset
from pyairtable_integration.realtime._delivery import Deliveries
from pyairtable_integration.realtime._frames import (
    CaughtUp,
    Confirmed,
    Delivered,
    Missed,
    Opened,
    Refused,
    Wanted,
    shared_query,
)
from pyairtable_integration.realtime._polling import polling_frames
from pyairtable_integration.realtime._registry import Subscriptions
from pyairtable_integration.realtime._send_buffer import SEND_BUFFER
from pyairtable_integration.testing import AutojumpClock
from pyairtable_integration.types import Event, EventPage

from .conftest import Backend, IntegrationFactory, sign_in

TABLE = "tbl" + "A" * 16
OTHER = "tbl" + "B" * 16


def test_one_reader_asks_for_the_filters_every_subscription_shares_or_none() -> None:
    one = Wanted("a", "record", {"table_id": TABLE})
    same = Wanted("b", "record", {"table_id": TABLE})
    other = Wanted("c", "record", {"table_id": OTHER})
    everything = Wanted("d", "*", {})
    assert shared_query([one, same], log_only=True) == {"channel": "record", "table_id": TABLE}
    assert shared_query([one, other], log_only=True) == {}
    assert shared_query([one, everything], log_only=True) == {}
    by_base = Wanted("e", "table", {"base_id": "bas" + "C" * 16})
    assert shared_query([by_base], log_only=True) == {"channel": "table"}  # the log lacks base_id
    assert shared_query([by_base], log_only=False) == {
        "channel": "table",
        "base_id": "bas" + "C" * 16,
    }


@pytest.mark.anyio
async def test_the_send_buffer_is_bounded_and_a_full_one_ends_the_socket() -> None:
    pa = create_integration(environ={}, features={"enable_realtime": True})
    manager = pa.realtime.manager
    send_buffer = manager.send_buffer
    send_buffer.send("dropped: no socket")  # the next socket subscribes from the positions
    buffer = send_buffer.open()
    assert buffer.empty()
    for index in range(SEND_BUFFER):
        send_buffer.send(f"frame {index}")
    assert buffer.full()
    overflowed = asyncio.ensure_future(send_buffer.overflowed())
    await asyncio.sleep(0)
    assert not overflowed.done()
    send_buffer.send("one too many")
    await asyncio.wait_for(overflowed, 5)  # a hang guard
    assert buffer.qsize() == SEND_BUFFER
    send_buffer.close()
    await pa.aclose()


@pytest.mark.anyio
async def test_the_public_client_connects_disconnects_and_shows_its_state() -> None:
    pa = create_integration(
        environ={},
        features={"enable_realtime": True},
        realtime_config={"websocket_url": "ws://127.0.0.1:9/ws", "reconnect_delay": 60},
    )
    states: list[str] = []
    stop = pa.realtime.on_state_change(lambda state: states.append(state.status))
    assert pa.realtime.state.status == "closed"
    await pa.realtime.connect("a-token")  # nothing listens: returns after the first failure
    assert pa.realtime.state.status in {"connecting", "reconnecting"}
    assert pa.realtime.state.error is not None
    await pa.realtime.disconnect()
    assert pa.realtime.state.status == "closed"
    assert states[0] == "connecting" and states[-1] == "closed"
    stop()
    await pa.aclose()


@pytest.mark.anyio
async def test_polling_refuses_a_subscription_to_a_table_the_caller_cannot_see(
    make_integration: IntegrationFactory, backend: Backend
) -> None:
    """As a WebSocket would: the log answers 404 for the table, so the subscription stops."""
    pa = await make_integration(
        clock=AutojumpClock(),
        features={"enable_realtime": True},
        realtime_config={
            "websocket_url": "ws://127.0.0.1:9/ws",  # refused: down to polling
            "enable_sse_fallback": False,
            "failures_to_fall": 1,
        },
    )
    await sign_in(pa, backend)
    manager = pa.realtime.manager
    unknown = pa.realtime.subscribe_to_record_changes("tbl" + "0" * 16, lambda event: None)
    async with asyncio.timeout(60):  # a hang guard
        while unknown.active:
            manager.changed.clear()
            await manager.changed.wait()
    assert manager.active_subscriptions() == []


def test_the_transports_import_nothing_of_the_connection() -> None:
    """WebSocket, SSE and polling know frames, the SSE decoder and lower layers only."""
    package = Path(realtime.__file__).parent
    for name in ("_websocket.py", "_sse_stream.py", "_polling.py"):
        tree = ast.parse((package / name).read_text(encoding="utf-8"))
        mine = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level == 1
        }
        assert mine <= {"_frames", "_sse"}, name


def _event(seq: int, table_id: str = TABLE) -> Event:
    return Event.model_validate(
        {
            "id": f"evt{seq}",
            "seq": seq,
            "type": "record.created",
            "channel": "record",
            "workspace_id": "wsp1",
            "base_id": "bas1",
            "table_id": table_id,
            "aggregate_type": "record",
            "aggregate_id": f"rec{seq}",
            "version": 1,
            "occurred_at": datetime(2030, 1, 1, tzinfo=UTC),
            "user_id": "usr1",
            "payload": {},
        }
    )


@pytest.mark.anyio
async def test_polling_is_an_iterator_of_frames_from_the_lowest_position() -> None:
    pages = [
        EventPage(data=[_event(5), _event(7)], next_since=9, reset=False),
        EventPage(data=[], next_since=20, reset=True),
    ]
    reads: list[dict[str, Any]] = []

    async def read(**query: Any) -> EventPage:
        reads.append(query)
        if not pages:
            raise NotFoundError("no such table", type="NOT_FOUND")
        return pages.pop(0)

    async def sleep(_seconds: float) -> None:
        return None

    wanted = [
        Wanted("a", "record", {"table_id": TABLE}, 4),
        Wanted("b", "record", {"table_id": TABLE}, 6),
    ]
    frames = [frame async for frame in polling_frames(wanted, read=read, sleep=sleep, interval=1.0)]
    assert frames == [
        Opened(),
        Delivered(_event(5)),
        Delivered(_event(7)),
        CaughtUp(9),
        Missed(20),
        Refused({"type": "NOT_FOUND", "message": "no such table"}),
    ]
    assert [query["since"] for query in reads] == [4, 9, 20]
    assert reads[0]["channel"] == "record" and reads[0]["table_id"] == TABLE


@pytest.mark.anyio
async def test_the_registry_applies_each_event_once_whichever_transport_brings_it() -> None:
    """The same event from a WebSocket (addressed) and a shared reader (for all) is taken once;
    positions move only forward, and a reset reaches only the subscriptions behind it."""
    deliveries = Deliveries(SystemClock())
    registry = Subscriptions(deliveries, on_added=lambda _sub: None, on_removed=lambda _id: None)
    got: list[int] = []
    one = registry.add("record", {"table_id": TABLE}, callback=lambda event: got.append(event.seq))
    other = registry.add("record", {"table_id": OTHER})
    registry.apply(Confirmed(3))
    registry.apply(Delivered(_event(5), one.id))
    registry.apply(Delivered(_event(5)))  # the same event again, for everyone
    registry.apply(Delivered(_event(4)))  # behind the position
    registry.apply(CaughtUp(8))
    assert (one.position, other.position) == (8, 8)
    registry.apply(Missed(6))  # nobody is behind 6
    assert [item for item in other.pending if isinstance(item, Reset)] == []
    registry.apply(Refused({"type": "FORBIDDEN"}, other.id))
    assert registry.active() == [one] and not other.active
    await deliveries.drain()
    assert got == [5]
    await deliveries.aclose()
