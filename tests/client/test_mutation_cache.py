"""The store's one record write (``RecordMutation``) and the mutation cache: order per record,
paused while offline and resumed when online (issue 15 item 1 and 3)."""

from __future__ import annotations

import asyncio

import pytest

from pyairtable_integration._clock import SystemClock
from pyairtable_integration._online import OnlineStatus
from pyairtable_integration.store import (
    MutationCache,
    MutationEvent,
    RecordMutation,
    parse_operation,
)

pytestmark = pytest.mark.anyio

RECORD = "rec" + "1" * 16
OTHER = "rec" + "2" * 16


async def _never() -> None:
    raise AssertionError("not probed in these tests")


def _cache() -> tuple[MutationCache, OnlineStatus, list[MutationEvent]]:
    online = OnlineStatus(_never, clock=SystemClock())
    cache = MutationCache(online)
    events: list[MutationEvent] = []
    cache.subscribe(events.append)
    return cache, online, events


def _update(record_id: str, *, ordered: bool = False, durable: bool = False) -> RecordMutation:
    write = parse_operation("update_record", {"record_id": record_id, "fields": {"A": 1}})
    return RecordMutation(write, ordered=ordered, durable=durable)


async def _hold(
    cache: MutationCache,
    mutation: RecordMutation,
    entered: asyncio.Event,
    release: asyncio.Event,
    waited: list[bool],
) -> None:
    async with cache.turn(mutation) as did_wait:
        waited.append(did_wait)
        entered.set()
        await release.wait()


async def test_an_ordered_write_is_sent_after_the_earlier_writes_of_its_record_only() -> None:
    cache, _online, _events = _cache()
    first_in, first_out = asyncio.Event(), asyncio.Event()
    second_in, second_out = asyncio.Event(), asyncio.Event()
    other_in, other_out = asyncio.Event(), asyncio.Event()
    waited: list[bool] = []
    first = asyncio.create_task(_hold(cache, _update(RECORD), first_in, first_out, waited))
    await asyncio.wait_for(first_in.wait(), 5)
    second = asyncio.create_task(
        _hold(cache, _update(RECORD, ordered=True), second_in, second_out, waited)
    )
    other = asyncio.create_task(
        _hold(cache, _update(OTHER, ordered=True), other_in, other_out, waited)
    )
    await asyncio.wait_for(other_in.wait(), 5)  # another record: at once
    assert not second_in.is_set() and len(cache.running()) == 3
    first_out.set()
    await asyncio.wait_for(second_in.wait(), 5)
    assert waited == [False, False, True]
    second_out.set()
    other_out.set()
    await asyncio.wait_for(asyncio.gather(first, second, other), 5)
    assert cache.running() == []


async def test_unordered_writes_of_one_record_go_at_once() -> None:
    cache, _online, _events = _cache()
    ins = [asyncio.Event(), asyncio.Event()]
    out = asyncio.Event()
    waited: list[bool] = []
    tasks = [
        asyncio.create_task(_hold(cache, _update(RECORD), entered, out, waited)) for entered in ins
    ]
    await asyncio.wait_for(asyncio.gather(*(entered.wait() for entered in ins)), 5)
    out.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert waited == [False, False]


async def test_a_write_started_offline_is_paused_and_resumes_by_itself_when_online() -> None:
    cache, online, events = _cache()
    online.set_online(False)
    entered, release = asyncio.Event(), asyncio.Event()
    mutation = _update(RECORD)
    task = asyncio.create_task(_hold(cache, mutation, entered, release, []))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not entered.is_set()
    assert [event.kind for event in events] == ["started", "paused"]
    online.set_online(True)
    await asyncio.wait_for(entered.wait(), 5)
    release.set()
    await asyncio.wait_for(task, 5)
    assert [event.kind for event in events] == ["started", "paused", "resumed", "finished"]


async def test_a_durable_write_is_not_held_offline_and_stays_paused_until_settled() -> None:
    cache, online, events = _cache()
    online.set_online(False)
    mutation = _update(RECORD, durable=True, ordered=True)
    async with asyncio.timeout(5), cache.turn(mutation) as waited:
        assert waited is False
    cache.pause(mutation, "obx_1")
    assert cache.paused() == {"obx_1": mutation}
    cache.settle("obx_1")
    assert cache.paused() == {}
    assert [event.kind for event in events] == ["started", "finished", "paused", "settled"]
    assert [event.entry_id for event in events[2:]] == ["obx_1", "obx_1"]
