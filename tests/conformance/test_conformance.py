"""The Python runner of the shared conformance scenarios (``conformance/scenarios/*.json``).

Each scenario runs through the Python SDK against a real uvicorn on a free port; every actor's
sockets go through its own ``TcpProxy`` (to cut its connection) and its HTTP requests through a
``FaultTransport`` (to lose an answer, and to count what was sent). The TypeScript runner
(``packages/frontend-integration/test/conformance``) runs the same files through the TS core.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from pyairtable_integration import (
    OfflineError,
    PyAirtableIntegration,
    Reset,
    ServiceError,
    create_integration,
)
from pyairtable_integration.testing import (
    PASSWORD,
    FaultTransport,
    TcpProxy,
    connect_error,
    reset,
    tcp_proxy,
)

from ..client.realtime_timing import FAST_REALTIME
from ..client.test_backend_restart import Collector
from ..server.backend import build_settings
from ..server.live import Live, live_server

pytestmark = pytest.mark.anyio

SCENARIOS = Path(__file__).resolve().parents[2] / "conformance" / "scenarios"
WAIT = 10.0  # a guard against a hang: every expectation is met long before it

Step = dict[str, Any]


class ShiftedClock:
    """The real clock, moved ahead by ``offset`` seconds (to expire an access token)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass
class Actor:
    email: str
    pa: PyAirtableIntegration
    faults: FaultTransport
    proxy: TcpProxy
    clock: ShiftedClock


@dataclass
class Run:
    live: Live
    realtime: bool
    durable: bool
    folder: Path
    stack: AsyncExitStack
    actors: dict[str, Actor] = field(default_factory=dict)
    saved: dict[str, Any] = field(default_factory=dict)
    feeds: dict[str, Collector] = field(default_factory=dict)
    resets: dict[str, asyncio.Event] = field(default_factory=dict)

    async def actor(self, name: str) -> Actor:
        found = self.actors.get(name)
        if found is None:
            proxy = await self.stack.enter_async_context(tcp_proxy("127.0.0.1", self.live.port))
            faults = FaultTransport(httpx2.AsyncHTTPTransport())
            clock = ShiftedClock()
            pa = create_integration(
                base_url=f"http://127.0.0.1:{proxy.port}/api/v1",
                http_transport=faults,
                clock=clock,
                retry_delay=0,
                enable_caching=False,
                features={
                    "enable_realtime": self.realtime,
                    "enable_offline_support": self.durable,
                },
                offline_path=str(self.folder / f"outbox-{name}.sqlite3"),
                realtime_config=FAST_REALTIME,
                environ={},
            )
            self.stack.push_async_callback(pa.aclose)
            await pa.initialize()
            if self.durable:
                await pa.offline.open()
            found = Actor(
                f"conformance-{secrets.token_hex(5)}@example.com", pa, faults, proxy, clock
            )
            self.actors[name] = found
        return found


async def outcome(step: Step, action: Callable[[], Awaitable[Any]]) -> Any:
    """``action``'s result; with ``expectError``, it must fail with that error type."""
    if "expectError" not in step:
        return await action()
    with pytest.raises(ServiceError) as raised:
        await action()
    assert raised.value.type == step["expectError"]
    return None


def sent(actor: Actor, step: Step) -> list[Any]:
    return actor.faults.seen(step["method"], f"/api/v1{step['path']}")


async def register(run: Run, step: Step) -> None:
    actor = await run.actor(step["as"])
    await actor.pa.services.auth.register(
        email=actor.email, password=PASSWORD, first_name="Conformance", last_name=step["as"]
    )


async def login(run: Run, step: Step) -> None:
    actor = await run.actor(step["as"])
    email = (await run.actor(step["email"])).email if "email" in step else actor.email
    await outcome(step, lambda: actor.pa.auth.login(email, step.get("password", PASSWORD)))


async def expect_signed_in(run: Run, step: Step) -> None:
    actor = await run.actor(step["as"])
    assert (await actor.pa.services.user.get_current_user()).email == actor.email


async def create_table(run: Run, step: Step) -> None:
    pa = (await run.actor(step["as"])).pa
    workspace = await pa.services.workspace.create_workspace(name="Tests")
    base = await pa.services.base.create_base(workspace_id=workspace.id, name="Base")
    table = await pa.services.table.create_table(
        base_id=base.id,
        name="Tasks",
        fields=[
            {"name": "Name", "type": "text"},
            {"name": "Notes", "type": "long_text"},
            {"name": "Points", "type": "number"},
        ],
    )
    run.saved[step["save"]] = {"workspace_id": workspace.id, "table_id": table.id}


async def share(run: Run, step: Step) -> None:
    pa = (await run.actor(step["as"])).pa
    other = await run.actor(step["with"])
    workspace_id = run.saved[step["table"]]["workspace_id"]
    await pa.services.workspace.add_workspace_member(
        workspace_id, email=other.email, role=step["role"]
    )


async def create_record(run: Run, step: Step) -> None:
    pa = (await run.actor(step["as"])).pa
    table_id = run.saved[step["table"]]["table_id"]
    record = await outcome(step, lambda: pa.services.record.create_record(table_id, step["fields"]))
    if "save" in step:
        run.saved[step["save"]] = record.id


async def update_record(run: Run, step: Step) -> None:
    pa = (await run.actor(step["as"])).pa
    record_id = run.saved[step["record"]]
    await outcome(
        step,
        lambda: pa.services.record.update_record(
            record_id, step["fields"], expected_version=step.get("expectedVersion")
        ),
    )


async def expect_record(run: Run, step: Step) -> None:
    pa = (await run.actor(step["as"])).pa
    record = await pa.services.record.get_record(run.saved[step["record"]])
    for name, value in step.get("fields", {}).items():
        assert record.fields.get(name) == value
    if "version" in step:
        assert record.version == step["version"]


async def count_records(run: Run, step: Step) -> None:
    pa = (await run.actor(step["as"])).pa
    page = await pa.services.record.get_records(run.saved[step["table"]]["table_id"])
    assert len(page.data) == step["equals"]


async def lose_next_answer(run: Run, step: Step) -> None:
    actor = await run.actor(step["as"])
    actor.faults.add(reset(), method=step["method"], path=f"/api/v1{step['path']}")


async def expect_same_idempotency_key(run: Run, step: Step) -> None:
    requests = sent(await run.actor(step["as"]), step)
    assert len(requests) == step["requests"]
    keys = {request.idempotency_key for request in requests}
    assert len(keys) == 1 and None not in keys


async def expire_access_token(run: Run, step: Step) -> None:
    (await run.actor(step["as"])).clock.offset += 16 * 60


async def concurrent_reads(run: Run, step: Step) -> None:
    pa = (await run.actor(step["as"])).pa
    table_id = run.saved[step["table"]]["table_id"]
    # Different page sizes: distinct requests (identical GETs would share one).
    await asyncio.gather(
        *(pa.services.record.get_records(table_id, page_size=i + 1) for i in range(step["count"]))
    )


async def expect_requests(run: Run, step: Step) -> None:
    assert len(sent(await run.actor(step["as"]), step)) == step["equals"]


async def subscribe(run: Run, step: Step) -> None:
    pa = (await run.actor(step["as"])).pa
    feed = Collector()
    reset = asyncio.Event()
    run.feeds[step["save"]] = feed
    run.resets[step["save"]] = reset

    def on_reset(_reset: Reset) -> None:
        reset.set()

    subscription = pa.realtime.subscribe_to_record_changes(
        run.saved[step["table"]]["table_id"], feed, on_reset=on_reset
    )
    with anyio.fail_after(WAIT):
        await subscription.wait_ready()


async def expect_events(run: Run, step: Step) -> None:
    feed = run.feeds[step["feed"]]
    await feed.until(len(step["types"]))
    assert [event.type for event in feed.events] == step["types"]
    seqs = [event.seq for event in feed.events]
    assert seqs == sorted(set(seqs))


async def block_websocket(run: Run, step: Step) -> None:
    proxy = (await run.actor(step["as"])).proxy
    proxy.reject = lambda chunk: b"upgrade: websocket" in chunk.lower()


async def expect_transport(run: Run, step: Step) -> None:
    manager = (await run.actor(step["as"])).pa.realtime.manager

    def reached() -> bool:
        return manager.state.live and manager.state.transport == step["transport"]

    changed = asyncio.Event()
    stop = manager.on_state_change(lambda _state: changed.set())
    try:
        with anyio.fail_after(WAIT):
            while not reached():
                changed.clear()
                await changed.wait()
    finally:
        stop()


async def go_offline(run: Run, step: Step) -> None:
    (await run.actor(step["as"])).faults.add(connect_error(), times=None)


async def go_online(run: Run, step: Step) -> None:
    (await run.actor(step["as"])).faults.clear()


async def offline_update(run: Run, step: Step) -> None:
    pa = (await run.actor(step["as"])).pa
    with pytest.raises(OfflineError):
        await pa.offline.update_record(run.saved[step["record"]], step["fields"])


async def offline_create(run: Run, step: Step) -> None:
    pa = (await run.actor(step["as"])).pa
    with pytest.raises(OfflineError):
        await pa.offline.create_record(run.saved[step["table"]]["table_id"], step["fields"])


async def expect_queued(run: Run, step: Step) -> None:
    assert len((await run.actor(step["as"])).pa.offline.pending()) == step["equals"]


async def sync_outbox(run: Run, step: Step) -> None:
    await (await run.actor(step["as"])).pa.offline.sync()


async def pause_realtime(run: Run, step: Step) -> None:
    (await run.actor(step["as"])).proxy.cut()


async def resume_realtime(run: Run, step: Step) -> None:
    (await run.actor(step["as"])).proxy.restore()


async def expect_events_gone(run: Run, step: Step) -> None:
    """Waits until housekeeping pruned past the feed's last event (through the writer's client)."""
    since = run.feeds[step["feed"]].events[-1].seq
    writer = next(actor for name, actor in run.actors.items() if name != step["as"])
    with anyio.fail_after(WAIT):
        while True:  # the server's housekeeping has no signal to wait on: ask the log again
            if (await writer.pa.services.event.get_events(since=since)).reset:
                return
            await anyio.sleep(0.1)


async def expect_reset(run: Run, step: Step) -> None:
    with anyio.fail_after(WAIT):
        await run.resets[step["feed"]].wait()


async def cut_connection(run: Run, step: Step) -> None:
    proxy = (await run.actor(step["as"])).proxy
    proxy.cut()
    proxy.restore()


VERBS: dict[str, Callable[[Run, Step], Awaitable[None]]] = {
    "register": register,
    "login": login,
    "expectSignedIn": expect_signed_in,
    "createTable": create_table,
    "share": share,
    "createRecord": create_record,
    "updateRecord": update_record,
    "expectRecord": expect_record,
    "countRecords": count_records,
    "loseNextAnswer": lose_next_answer,
    "expectSameIdempotencyKey": expect_same_idempotency_key,
    "expireAccessToken": expire_access_token,
    "concurrentReads": concurrent_reads,
    "expectRequests": expect_requests,
    "subscribe": subscribe,
    "expectEvents": expect_events,
    "cutConnection": cut_connection,
    "blockWebSocket": block_websocket,
    "goOffline": go_offline,
    "goOnline": go_online,
    "offlineUpdate": offline_update,
    "offlineCreate": offline_create,
    "expectQueued": expect_queued,
    "syncOutbox": sync_outbox,
    "pauseRealtime": pause_realtime,
    "resumeRealtime": resume_realtime,
    "expectEventsGone": expect_events_gone,
    "expectReset": expect_reset,
    "expectTransport": expect_transport,
}


def _scenarios() -> list[Any]:
    return [
        pytest.param(json.loads(path.read_text()), id=path.stem)
        for path in sorted(SCENARIOS.glob("*.json"))
    ]


@pytest.mark.parametrize("scenario", _scenarios())
async def test_scenario(scenario: dict[str, Any], tmp_path: Path) -> None:
    """Every step of the scenario, in order, through the Python SDK, on its own backend."""
    needs = scenario.get("needs", [])
    settings = build_settings(None, tmp_path / "data", **scenario.get("server", {}))
    async with live_server(settings) as live, AsyncExitStack() as stack:
        run = Run(live, "realtime" in needs, "offline" in needs, tmp_path, stack)
        for index, step in enumerate(scenario["steps"], start=1):
            verb = VERBS.get(step["do"])
            if verb is None:
                pytest.fail(f"step {index}: unknown verb {step['do']!r}")
            await verb(run, step)
