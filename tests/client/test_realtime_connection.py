"""The realtime connection owns its send buffer (bounded) and shares one reader per transport."""

from __future__ import annotations

import asyncio

import pytest

from pyairtable_integration import create_integration
from pyairtable_integration.realtime._fallback import shared_query
from pyairtable_integration.realtime._manager import SEND_BUFFER
from pyairtable_integration.realtime._subscription import Subscription
from pyairtable_integration.testing import AutojumpClock

from .conftest import Backend, IntegrationFactory, sign_in

TABLE = "tbl" + "A" * 16
OTHER = "tbl" + "B" * 16


def test_one_reader_asks_for_the_filters_every_subscription_shares_or_none() -> None:
    one = Subscription("a", "record", {"table_id": TABLE})
    same = Subscription("b", "record", {"table_id": TABLE})
    other = Subscription("c", "record", {"table_id": OTHER})
    everything = Subscription("d", "*", {})
    assert shared_query([one, same], log_only=True) == {"channel": "record", "table_id": TABLE}
    assert shared_query([one, other], log_only=True) == {}
    assert shared_query([one, everything], log_only=True) == {}
    by_base = Subscription("e", "table", {"base_id": "bas" + "C" * 16})
    assert shared_query([by_base], log_only=True) == {"channel": "table"}  # the log lacks base_id
    assert shared_query([by_base], log_only=False) == {
        "channel": "table",
        "base_id": "bas" + "C" * 16,
    }


@pytest.mark.anyio
async def test_the_send_buffer_is_bounded_and_a_full_one_ends_the_socket() -> None:
    pa = create_integration(environ={}, features={"enable_realtime": True})
    manager = pa.realtime.manager
    manager.send("dropped: no socket")  # the next socket subscribes from the positions
    buffer = manager.open_send_buffer()
    assert buffer.empty()
    for index in range(SEND_BUFFER):
        manager.send(f"frame {index}")
    assert buffer.full()
    overflowed = asyncio.ensure_future(manager.overflowed())
    await asyncio.sleep(0)
    assert not overflowed.done()
    manager.send("one too many")
    await asyncio.wait_for(overflowed, 5)  # a hang guard
    assert buffer.qsize() == SEND_BUFFER
    manager.close_send_buffer()
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
