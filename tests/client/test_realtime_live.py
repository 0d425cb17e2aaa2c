"""The realtime client against a real uvicorn, through a TCP proxy the test controls.

Every socket goes through ``TcpProxy``: cutting it, blackholing it, or refusing WebSocket
upgrades (then SSE streams) is how faults reach the client; nothing inside the SDK is patched.
Records are written straight to the server, beside the proxy.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest

from pyairtable_integration import (
    PyAirtableIntegration,
    RealtimeState,
    Reset,
    Subscription,
    create_integration,
)
from pyairtable_integration.testing import (
    PASSWORD,
    Actor,
    LiveBackend,
    TcpProxy,
    live_backend,
    tcp_proxy,
)
from pyairtable_integration.types import Event
from pyairtable_server import maintenance

from .realtime_timing import FAST_REALTIME, HANG

pytestmark = pytest.mark.anyio


def _is_websocket_upgrade(chunk: bytes) -> bool:
    return b"upgrade: websocket" in chunk.lower()


def _is_sse_or_websocket(chunk: bytes) -> bool:
    return chunk.startswith(b"GET /events") or _is_websocket_upgrade(chunk)


@dataclass
class World:
    live: LiveBackend
    proxy: TcpProxy
    pa: PyAirtableIntegration
    owner: Actor
    table_id: str
    states: list[RealtimeState] = field(default_factory=list)

    async def write(self, count: int, *, sign_in: bool = False) -> list[str]:
        """Write ``count`` records straight to the server (``sign_in``: with a fresh token)."""
        if sign_in:
            self.owner = await self.live.api.login(self.owner.email)
        return await self.live.api.write_records(self.owner, self.table_id, count)

    async def ready(self, *subscriptions: Subscription) -> None:
        """Wait until the backend serves every one of ``subscriptions``."""
        with anyio.fail_after(HANG):
            for subscription in subscriptions:
                await subscription.wait_ready()

    async def state(self, predicate: Callable[[RealtimeState], bool]) -> RealtimeState:
        """Wait until the connection's state satisfies ``predicate``."""
        manager = self.pa.realtime.manager
        reached = asyncio.Event()
        stop = manager.on_state_change(lambda state: reached.set() if predicate(state) else None)
        try:
            with anyio.fail_after(HANG):
                if not predicate(manager.state):
                    await reached.wait()
        finally:
            stop()
        return manager.state


@asynccontextmanager
async def world(
    tmp_path: Path,
    *,
    refresh_margin: float = 60.0,
    integration: Mapping[str, Any] | None = None,
    **server: Any,
) -> AsyncIterator[World]:
    """A live server (``server``: its settings), a proxy to it, and an integration signed in
    through the proxy (``integration``: options over these tests' defaults)."""
    async with (
        live_backend(tmp_path / "data", realtime_sse_heartbeat_seconds=0.5, **server) as live,
        tcp_proxy("127.0.0.1", live.port) as proxy,
    ):
        email = f"rt-{secrets.token_hex(4)}@example.com"
        await live.api.register(email)
        owner = await live.api.login(email)
        workspace = await live.api.workspace(owner)
        base = await live.api.base(owner, workspace["id"])
        table = await live.api.table(owner, base["id"])
        pa = create_integration(
            base_url=f"http://127.0.0.1:{proxy.port}/api/v1",
            retry_attempts=0,
            retry_delay=0,
            realtime_config=FAST_REALTIME,
            environ={},
            **{
                "breaker_failure_threshold": 1000,
                "refresh_margin": refresh_margin,
                **(integration or {}),
            },
        )
        try:
            await pa.initialize()
            await pa.auth.login(email, PASSWORD)
            running = World(live, proxy, pa, owner, table["id"])
            pa.realtime.manager.on_state_change(running.states.append)
            yield running
        finally:
            await pa.aclose()


class Collector:
    """A callback that keeps what it was given, and lets a test wait for a count."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.resets: list[Reset] = []
        self._changed = asyncio.Event()

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    def reset(self, reset: Reset) -> None:
        self.resets.append(reset)
        self._changed.set()

    @property
    def ids(self) -> list[str]:
        return [event.aggregate_id for event in self.events]

    async def until(self, count: int) -> None:
        with anyio.fail_after(HANG):
            while len(self.events) < count:
                self._changed.clear()
                await self._changed.wait()

    async def until_reset(self) -> None:
        with anyio.fail_after(HANG):
            while not self.resets:
                self._changed.clear()
                await self._changed.wait()


def _connected(state: RealtimeState) -> bool:
    return state.status == "connected"


async def test_every_event_once_in_order_across_20_cuts_and_a_full_transport_round_trip(
    tmp_path: Path,
) -> None:
    async with world(tmp_path) as w:
        seen = Collector()
        subscription = w.pa.realtime.subscribe_to_record_changes(w.table_id, seen)
        await w.state(_connected)
        await w.ready(subscription)
        chaos = random.Random(6)

        async def cut_twenty_times() -> None:
            # Each cut hits a live WebSocket (the client may recover on a fallback first).
            for _ in range(20):
                await w.state(_connected)
                await anyio.sleep(chaos.uniform(0.01, 0.08))
                w.proxy.cut()
                await anyio.sleep(chaos.uniform(0.0, 0.1))
                w.proxy.restore()

        written: list[str] = []

        async def writer() -> None:
            for _ in range(70):
                written.extend(await w.write(10))
                await anyio.sleep(chaos.uniform(0.0, 0.05))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(cut_twenty_times)
            tasks.start_soon(writer)
        await seen.until(700)
        recoveries = sum(1 for state in w.states if state.live) - 1

        # WebSocket refused: down to SSE.
        w.proxy.reject = _is_websocket_upgrade
        w.proxy.cut()
        w.proxy.restore()
        await w.state(lambda state: (state.status, state.transport) == ("fallback", "sse"))
        written += await w.write(100)
        await seen.until(800)

        # SSE refused too: down to polling the event log.
        w.proxy.reject = _is_sse_or_websocket
        w.proxy.cut()
        w.proxy.restore()
        await w.state(lambda state: (state.status, state.transport) == ("fallback", "polling"))
        written += await w.write(100)
        await seen.until(900)

        # Everything allowed again: the probe takes the client back to WebSocket.
        w.proxy.reject = None
        await w.state(_connected)
        written += await w.write(100)
        await seen.until(1000)

    assert len(written) == 1000
    assert seen.ids == written  # every event, once, in order
    assert [event.seq for event in seen.events] == sorted({e.seq for e in seen.events})
    assert recoveries >= 20
    transports = [state.transport for state in w.states if state.live]
    assert transports.index("sse") < transports.index("polling")
    assert transports[-1] == "websocket"


async def test_a_blackholed_socket_is_found_dead_by_the_heartbeat_and_replaced(
    tmp_path: Path,
) -> None:
    async with world(tmp_path) as w:
        seen = Collector()
        subscription = w.pa.realtime.subscribe_to_record_changes(w.table_id, seen)
        await w.state(_connected)
        await w.ready(subscription)
        w.proxy.blackhole()
        dead = await w.state(lambda state: state.status == "reconnecting")
        w.proxy.restore()
        await w.state(_connected)
        written = await w.write(3)
        await seen.until(3)
    assert dead.error is not None and "HeartbeatTimeout" in dead.error
    assert seen.ids == written


async def test_a_refreshed_token_is_sent_on_the_live_socket_which_outlives_the_old_one(
    tmp_path: Path,
) -> None:
    async with world(tmp_path, access_token_ttl_seconds=4) as w:
        seen = Collector()
        subscription = w.pa.realtime.subscribe_to_record_changes(w.table_id, seen)
        await w.state(_connected)
        await w.ready(subscription)
        first = w.pa.auth.session
        assert first is not None
        await w.pa.auth.refresh()
        # Past the first token's expiry: without the renewal the server closes with 4401.
        await anyio.sleep((first.expires_at - w.pa.clock.now()).total_seconds() + 1)
        written = await w.write(2, sign_in=True)
        await seen.until(2)
        statuses = [state.status for state in w.states]
    assert statuses[statuses.index("connected") :] == ["connected"]
    assert seen.ids == written


async def test_a_4401_close_renews_the_token_and_resumes_without_loss(tmp_path: Path) -> None:
    async with world(tmp_path, access_token_ttl_seconds=3, refresh_margin=0.0) as w:
        session = w.pa.auth.session
        assert session is not None
        seen = Collector()
        subscription = w.pa.realtime.subscribe_to_record_changes(w.table_id, seen)
        await w.ready(subscription)
        # The app's own token is not renewed on the socket: the server closes it with 4401.
        await w.pa.realtime.manager.connect(session.tokens.access_token)
        rejected = await w.state(lambda state: "TokenRejected" in (state.error or ""))
        written = await w.write(2, sign_in=True)
        await w.state(_connected)
        await seen.until(2)
    assert rejected.status == "reconnecting"
    assert seen.ids == written


async def test_unsubscribe_stops_delivery_and_others_go_on(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        kept, dropped = Collector(), Collector()
        subscription = w.pa.realtime.subscribe_to_record_changes(w.table_id, kept)
        gone = w.pa.realtime.subscribe("record", {"table_id": w.table_id}, dropped)
        await w.state(_connected)
        await w.ready(subscription, gone)
        first = await w.write(1)
        await kept.until(1)
        await dropped.until(1)
        w.pa.realtime.unsubscribe(gone)
        w.pa.realtime.unsubscribe(gone)
        second = await w.write(2)
        await kept.until(3)
    assert kept.ids == first + second
    assert dropped.ids == first


async def test_a_slow_callback_holds_up_neither_the_socket_nor_other_subscribers(
    tmp_path: Path,
) -> None:
    async with world(tmp_path) as w:
        release = asyncio.Event()
        slow_seen: list[str] = []

        async def slow(event: Event) -> None:
            await release.wait()
            slow_seen.append(event.aggregate_id)

        fast = Collector()
        slow_sub = w.pa.realtime.subscribe_to_record_changes(w.table_id, slow)
        fast_sub = w.pa.realtime.subscribe_to_record_changes(w.table_id, fast)
        await w.state(_connected)
        await w.ready(slow_sub, fast_sub)
        written = await w.write(50)
        await fast.until(50)
        assert slow_seen == []
        release.set()
        await w.pa.realtime.manager.disconnect()  # returns once queued events are delivered
    assert fast.ids == written
    assert slow_seen == written


async def test_bursts_are_batched_into_lists_in_order(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        batches: list[list[str]] = []
        got = asyncio.Event()

        def take(events: list[Event]) -> None:
            batches.append([event.aggregate_id for event in events])
            got.set()

        subscription = w.pa.realtime.subscribe_batched(
            "record", {"table_id": w.table_id}, take, window=0.3
        )
        await w.state(_connected)
        await w.ready(subscription)
        written = await w.write(100)
        with anyio.fail_after(HANG):
            while sum(len(batch) for batch in batches) < 100:
                got.clear()
                await got.wait()
    assert [name for batch in batches for name in batch] == written
    assert len(batches) < 100


async def test_resuming_beyond_retention_tells_the_subscriber_to_refetch(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        seen = Collector()
        told: list[Reset] = []
        w.pa.realtime.on_reset(told.append)
        subscription = w.pa.realtime.subscribe(
            "record", {"table_id": w.table_id}, seen, on_reset=seen.reset
        )
        await w.state(_connected)
        await w.ready(subscription)
        first = await w.write(1)
        await seen.until(1)
        await w.pa.realtime.manager.disconnect()
        await w.write(10)
        pruned = w.live.app.state.services.settings.model_copy(update={"event_retention_count": 2})
        await maintenance.run_once(w.live.app.state.services.db, pruned)
        await w.pa.realtime.manager.connect()
        await seen.until_reset()
        after = await w.write(1)
        await seen.until(2)
    assert seen.ids == first + after
    # The global listeners hear this subscription's reset (and the cache feed's, if it runs).
    assert [reset for reset in told if reset.subscription_id == subscription.id] == seen.resets
    assert seen.resets[0].position > seen.events[0].seq


async def test_disconnect_and_aclose_leave_no_task_running(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        seen = Collector()
        subscription = w.pa.realtime.subscribe_to_record_changes(w.table_id, seen)
        await w.state(_connected)
        await w.ready(subscription)
        await w.write(5)
        await seen.until(5)
        manager = w.pa.realtime.manager
        assert _realtime_tasks() != []  # the helper sees the connection's tasks
        await manager.disconnect()
        assert not manager.running
        assert manager.state.status == "closed"
        assert _realtime_tasks() == []
        await manager.connect()
        assert manager.state.live
        await w.pa.aclose()
        assert not manager.running
        assert _realtime_tasks() == []


def _realtime_tasks() -> list[asyncio.Task[Any]]:
    """Tasks running code of the realtime package."""
    return [
        task
        for task in asyncio.all_tasks()
        if "pyairtable_integration/realtime/" in _filename(task.get_coro())
    ]


def _filename(coroutine: Any) -> str:
    code = getattr(coroutine, "cr_code", None) or getattr(coroutine, "gi_code", None)
    return str(getattr(code, "co_filename", ""))
