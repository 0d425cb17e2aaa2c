"""Realtime after an outage, with the breakers and the cache's feed at work (issue 15).

Behind a proxy that cut the network, subscriptions used to catch up 47-77 s after it returned:
the cache's all-channel feed polled beside each subscription's own feed, so the event-log
breaker's half-open probe let one of them through and the other's ``CircuitOpenError`` failed
the whole attempt (the successful probe thrown away), and while that breaker was open the
client never tried the WebSocket, which was reachable. These tests run a real uvicorn behind
``TcpProxy``; the integration keeps the default breaker (a low threshold) and caching on.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import anyio
import pytest

from .realtime_timing import HANG
from .test_realtime_live import Collector, World, _is_websocket_upgrade, world

pytestmark = pytest.mark.anyio


def _is_sse(chunk: bytes) -> bool:
    return chunk.startswith(b"GET /events")


def _is_log_read(chunk: bytes) -> bool:
    return chunk.startswith(b"GET /api/v1/events")


def breaker_world(tmp_path: Path, **options: Any) -> AbstractAsyncContextManager[World]:
    """``world`` with caching on (so the cache feed runs) and the breaker options given."""
    return world(tmp_path, integration={"enable_caching": True, **options})


async def _breaker_open(w: World) -> None:
    with anyio.fail_after(HANG):
        # A breaker tells no listener of its changes: look at it now and then.
        while True:
            breaker = w.pa.transport.breakers().get("realtime")
            if breaker is not None and breaker.state == "open":
                return
            await anyio.sleep(0.02)


async def test_with_the_event_log_breaker_open_the_websocket_is_tried_and_events_arrive(
    tmp_path: Path,
) -> None:
    # The breaker stays open for the whole test: only the WebSocket can bring the events.
    async with breaker_world(
        tmp_path, breaker_failure_threshold=2, breaker_reset_timeout=3600
    ) as w:
        seen = Collector()
        subscription = w.pa.realtime.subscribe_to_record_changes(w.table_id, seen)
        await w.state(lambda state: state.status == "connected")
        await w.ready(subscription)
        # Every transport refused: down the ladder to polling, whose failures open the breaker.
        w.proxy.reject = lambda chunk: (
            _is_websocket_upgrade(chunk) or _is_sse(chunk) or _is_log_read(chunk)
        )
        w.proxy.cut()
        w.proxy.restore()
        await w.state(lambda state: state.transport == "polling")
        await _breaker_open(w)
        written = await w.write(5)
        # The WebSocket comes back; the event log stays refused (and its breaker open).
        w.proxy.reject = _is_log_read
        await seen.until(5)
        await w.state(lambda state: state.status == "connected")
    assert seen.ids == written
    assert w.pa.transport.breakers()["realtime"].state == "open"


async def test_polling_reads_once_for_every_subscription_and_waits_out_an_open_breaker(
    tmp_path: Path,
) -> None:
    log_reads: list[bytes] = []

    def only_polling(chunk: bytes) -> bool:
        if _is_log_read(chunk):
            log_reads.append(chunk.split(b"\r\n", 1)[0])
        return _is_websocket_upgrade(chunk) or _is_sse(chunk)

    async with breaker_world(tmp_path, breaker_failure_threshold=2, breaker_reset_timeout=0.3) as w:
        w.proxy.reject = only_polling
        seen, others = Collector(), Collector()
        first = w.pa.realtime.subscribe_to_record_changes(w.table_id, seen)
        second = w.pa.realtime.subscribe("record", None, others)
        await w.state(lambda state: (state.status, state.transport) == ("fallback", "polling"))
        await w.ready(first, second)
        written = await w.write(3)
        await seen.until(3)
        for _ in range(3):  # outages long enough to open the event log's breaker
            w.proxy.cut()
            await _breaker_open(w)
            written += await w.write(3)
            w.proxy.restore()
            await seen.until(len(written))
        await others.until(len(written))
    assert seen.ids == written and others.ids == written  # every event once, in order
    # The cache's all-channel feed and both subscriptions share each read of the log: no read
    # is one subscription's (by its table) beside another's.
    assert log_reads and not [line for line in log_reads if b"table_id=" in line]
    # An open breaker is the log's state, not a failed connection: it never shows as one.
    assert not [state for state in w.states if "CircuitOpen" in (state.error or "")]
