"""Live queries against the real backend in-process: statuses, staleness, optimism, lifetimes.

Integrations here are not initialized (``faulty`` rigs on a ``FakeClock``) or have realtime off,
so what keeps data current is the record cache's change notification; faults come only from
``FaultTransport``.
"""

from __future__ import annotations

import asyncio
import gc
import random
import weakref
from collections.abc import Callable
from typing import Any

import pytest

from pyairtable_integration import InvalidRequestError, PyAirtableIntegration
from pyairtable_integration.cache import RECORD_LIST
from pyairtable_integration.live import LiveQuery, MutationState, QueryState
from pyairtable_integration.live._live import TASK_PREFIX
from pyairtable_integration.testing import FaultTransport, Gate, connect_error

from .conftest import Backend, IntegrationFactory, Rig, RigFactory, sign_in

pytestmark = pytest.mark.anyio

FIELDS: list[dict[str, Any]] = [
    {"name": "Name", "type": "text"},
    {"name": "Score", "type": "number"},
]


class Recorder:
    """An observer that keeps every state it is given."""

    def __init__(self) -> None:
        self.states: list[QueryState[Any]] = []

    def __call__(self, state: QueryState[Any]) -> None:
        self.states.append(state)


async def _table(rig: Rig, backend: Backend, names: list[str]) -> str:
    assert rig.email is not None
    return await _table_of(rig.email, backend, names)


async def _table_of(email: str, backend: Backend, names: list[str]) -> str:
    owner = await backend.api.login(email)
    workspace = await backend.api.workspace(owner)
    base = await backend.api.base(owner, workspace["id"])
    table = await backend.api.table(owner, base["id"], FIELDS)
    for index, name in enumerate(names):
        await backend.api.post(
            owner, "/records", {"table_id": table["id"], "fields": {"Name": name, "Score": index}}
        )
    return str(table["id"])


async def _rig(faulty: RigFactory, **options: Any) -> Rig:
    options.setdefault("enable_caching", True)
    options.setdefault("features", {"enable_realtime": False})
    return await faulty(**options)


def _names(state: QueryState[Any]) -> list[str]:
    return [record.fields["Name"] for record in state.data or []]


async def test_a_records_query_goes_from_pending_to_success_on_first_subscribe(
    faulty: RigFactory, backend: Backend
) -> None:
    rig = await _rig(faulty)
    table_id = await _table(rig, backend, ["a", "b"])
    query = rig.pa.live.records(table_id, sort=[{"field": "Name", "direction": "asc"}])
    seen = Recorder()
    assert query.state.status == "pending"
    stop = query.subscribe(seen)
    assert (query.state.status, query.state.fetch_status) == ("pending", "fetching")
    await rig.pa.live.settle()
    state = query.state
    assert (state.status, state.fetch_status, state.is_stale) == ("success", "idle", False)
    assert _names(state) == ["a", "b"]
    assert seen.states[0].fetch_status == "fetching" and seen.states[-1] == state
    stop()


async def test_a_query_of_a_missing_table_ends_in_error_with_the_not_found_error(
    faulty: RigFactory,
) -> None:
    rig = await _rig(faulty)
    query = rig.pa.live.records("tbl00000000000000000000")
    stop = query.subscribe(Recorder())
    await rig.pa.live.settle()
    assert (query.state.status, query.state.fetch_status) == ("error", "idle")
    assert query.state.error is not None and query.state.error.type == "NOT_FOUND"
    stop()


async def test_a_refetch_that_cannot_connect_pauses_and_keeps_the_data(
    faulty: RigFactory, backend: Backend
) -> None:
    rig = await _rig(faulty, retry_attempts=1)
    table_id = await _table(rig, backend, ["kept"])
    query = rig.pa.live.records(table_id)
    seen = Recorder()
    stop = query.subscribe(seen)
    await rig.pa.live.settle()
    rig.faults.add(connect_error(), method="GET", path="/records", times=None)

    state = await query.refetch()
    assert (state.status, state.fetch_status, state.error) == ("success", "paused", None)
    assert _names(state) == ["kept"]
    assert [s.fetch_status for s in seen.states][-2:] == ["fetching", "paused"]

    rig.faults.clear()
    state = await query.refetch()
    assert (state.status, state.fetch_status) == ("success", "idle")
    assert _names(state) == ["kept"]
    stop()


async def test_stale_data_is_shown_while_it_revalidates_then_fresh_data_replaces_it(
    faulty: RigFactory, backend: Backend
) -> None:
    rig = await _rig(faulty)
    table_id = await _table(rig, backend, ["old"])
    query = rig.pa.live.records(table_id)
    seen = Recorder()
    stop = query.subscribe(seen)
    await rig.pa.live.settle()
    assert not query.state.is_stale
    owner = await backend.api.login(str(rig.email))
    await backend.api.post(owner, "/records", {"table_id": table_id, "fields": {"Name": "new"}})

    rig.clock.advance(RECORD_LIST.ttl + 1)
    assert query.state.is_stale and _names(query.state) == ["old"]
    gate = Gate()
    rig.faults.add(gate, method="GET", path="/records")
    seen.states.clear()
    stop_second = query.subscribe(Recorder())  # a second component mounts: revalidate
    await gate.arrived.wait()
    during = query.state
    assert during.is_stale and during.fetch_status == "fetching" and _names(during) == ["old"]
    assert seen.states[-1] == during
    gate.release()
    await rig.pa.live.settle()
    after = query.state
    assert not after.is_stale and after.fetch_status == "idle"
    assert sorted(_names(after)) == ["new", "old"]
    stop()
    stop_second()


async def test_an_optimistic_update_shows_at_once_then_is_confirmed(
    faulty: RigFactory, backend: Backend
) -> None:
    rig = await _rig(faulty)
    table_id = await _table(rig, backend, ["draft"])
    query = rig.pa.live.records(table_id)
    seen = Recorder()
    stop = query.subscribe(seen)
    await rig.pa.live.settle()
    record = (query.state.data or [])[0]
    gate = Gate()
    rig.faults.add(gate, method="PATCH", path="/records/*")

    write = asyncio.create_task(
        rig.pa.mutate.update_record(record.id, {"Name": "final"}, table_id=table_id)
    )
    await gate.arrived.wait()
    shown = query.state
    assert shown.is_optimistic and _names(shown) == ["final"]
    gate.release()
    result = await write
    assert result.applied
    confirmed = query.state
    assert not confirmed.is_optimistic and _names(confirmed) == ["final"]
    assert (confirmed.data or [])[0].version == record.version + 1
    stop()


async def test_a_rejected_optimistic_update_rolls_the_query_back(
    faulty: RigFactory, backend: Backend
) -> None:
    rig = await _rig(faulty)
    table_id = await _table(rig, backend, ["kept"])
    query = rig.pa.live.records(table_id)
    stop = query.subscribe(Recorder())
    await rig.pa.live.settle()
    record = (query.state.data or [])[0]
    mutation = rig.pa.live.mutation(rig.pa.mutate.update_record)
    changes: list[MutationState[Any]] = []
    stop_mutation = mutation.subscribe(changes.append)
    with pytest.raises(InvalidRequestError) as raised:
        await mutation.run(record.id, {"Score": "not a number"}, table_id=table_id)
    assert mutation.state.status == "error" and mutation.state.error is raised.value
    assert [s.status for s in changes] == ["pending", "error"]
    assert not query.state.is_optimistic and _names(query.state) == ["kept"]
    assert (query.state.data or [])[0].fields["Score"] == 0
    stop()
    stop_mutation()


def _live_tasks() -> list[asyncio.Task[Any]]:
    return [task for task in asyncio.all_tasks() if task.get_name().startswith(TASK_PREFIX)]


async def test_many_mounts_and_unmounts_on_shared_queries_leave_nothing_behind(
    faulty: RigFactory, backend: Backend
) -> None:
    rig = await _rig(faulty)
    pa: PyAirtableIntegration = rig.pa
    table_id = await _table(rig, backend, ["x", "y", "z"])
    queries: list[Callable[[], LiveQuery[Any]]] = [
        lambda: pa.live.records(table_id),
        lambda: pa.live.records(table_id, sort=[{"field": "Name", "direction": "desc"}]),
        lambda: pa.live.workspaces(),
        lambda: pa.live.table(table_id),
    ]
    listeners_before = pa.cache.records.listener_count
    events_before = len(pa.realtime.manager.deliveries.event_listeners)
    rng = random.Random(7)
    mounted: list[Callable[[], None]] = []
    for cycle in range(200):
        query = rng.choice(queries)()
        mounted.append(query.subscribe(Recorder()))
        # Some components share one query at once; some unmount before their fetch ends.
        if len(mounted) > 3 or rng.random() < 0.5:
            mounted.pop(rng.randrange(len(mounted)))()
        if cycle % 10 == 0:
            await asyncio.sleep(0)
        if cycle % 25 == 0:
            await pa.live.settle()
    never_subscribed = pa.live.records(table_id, fields=["Name"])  # built on a render only
    assert not never_subscribed.attached
    unreferenced = weakref.ref(never_subscribed)
    del never_subscribed
    gc.collect()
    assert unreferenced() is None
    for stop in mounted:
        stop()
        stop()  # twice is harmless
    await pa.live.settle()
    assert len(pa.live.queries) == 0
    assert pa.cache.records.listener_count == listeners_before
    assert len(pa.realtime.manager.deliveries.event_listeners) == events_before
    assert pa.live.tasks == [] and _live_tasks() == []


async def test_observers_of_one_key_share_one_query_and_one_fetch(
    faulty: RigFactory, backend: Backend
) -> None:
    rig = await _rig(faulty)
    table_id = await _table(rig, backend, ["a"])
    first = rig.pa.live.records(table_id, fields=["Name", "Score"])
    second = rig.pa.live.records(table_id, fields=["Score", "Name"])
    assert first is second
    stops = [first.subscribe(Recorder()) for _ in range(5)]
    await rig.pa.live.settle()
    faults: FaultTransport = rig.faults
    assert len(faults.seen("GET", "/records")) == 1
    for stop in stops:
        stop()


async def test_a_paused_query_resumes_by_itself_with_the_outbox_and_realtime_off(
    make_integration: IntegrationFactory, backend: Backend
) -> None:
    """Issue 15: "online" was the outbox's alone, so without it a paused query waited for a
    manual refetch. The integration's one ``OnlineStatus`` and its probe bring it back."""
    faults = FaultTransport(backend.transport())
    pa = await make_integration(
        http_transport=faults,
        enable_caching=True,
        retry_attempts=0,
        features={"enable_realtime": False, "enable_offline_support": False},
    )
    email = await sign_in(pa, backend)
    table_id = await _table_of(email, backend, ["kept"])
    query = pa.live.records(table_id)
    resumed = asyncio.Event()

    def watch(state: QueryState[Any]) -> None:
        if state.fetch_status == "idle" and pa.online.online and paused:
            resumed.set()

    paused: list[QueryState[Any]] = []
    stop = query.subscribe(watch)
    await pa.live.settle()
    faults.add(connect_error(), method="GET", path="/records", times=None)
    state = await query.refetch()
    paused.append(state)
    assert state.fetch_status == "paused" and not pa.online.online
    faults.clear()  # the network is back; nobody calls refetch
    async with asyncio.timeout(60):  # a hang guard, not a timing threshold
        await resumed.wait()
    assert query.state.status == "success" and _names(query.state) == ["kept"]
    assert pa.online.probes >= 1
    stop()
