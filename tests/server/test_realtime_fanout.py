"""The hub's fan-out without a database: once per audience, members only, in order, bounded.

The hub is driven through ``received`` (what a local commit hands it), with subscribers attached
as the transports attach them; nothing here needs the feed task's log reads.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, cast

import anyio
import anyio.lowlevel
import pytest

from pyairtable_server import events
from pyairtable_server.db.engine import Database
from pyairtable_server.realtime.flushing import Flusher
from pyairtable_server.realtime.hub import (
    CLOSE_OVERLOADED,
    FLUSHED_AT_ONCE,
    MEMBERSHIP_MEMORY,
    EventOut,
    Hub,
    Outgoing,
    Published,
    Subscriber,
)
from pyairtable_server.realtime.interest import Interest
from pyairtable_server.realtime.outbox import Outbox
from pyairtable_server.realtime.protocol import frame

pytestmark = pytest.mark.anyio

WORKSPACE = "wsp" + "A" * 16
OTHER_WORKSPACE = "wsp" + "B" * 16
TABLE = "tbl" + "A" * 16
OTHER_TABLE = "tbl" + "B" * 16
OUTBOX = 128


def _hub() -> Hub:
    # The database is only read by the feed task (``run``), which these tests do not start.
    hub = Hub(cast(Database, None), poll_interval=60.0)
    hub.running = True
    return hub


def _subscriber(user_id: str, workspaces: set[str], *, outbox_size: int = OUTBOX) -> Subscriber:
    return Subscriber(
        user_id,
        workspaces,
        outbox_size=outbox_size,
        expires_at=datetime.now(UTC) + timedelta(hours=1),
        session_id="ses-" + user_id,
        authenticated_at=0,
    )


def _event(seq: int, *, workspace_id: str = WORKSPACE, table_id: str = TABLE) -> Published:
    wire: dict[str, Any] = {
        "seq": seq,
        "id": f"evt{seq:016d}",
        "type": "record.created",
        "channel": "record",
        "workspace_id": workspace_id,
        "base_id": "bas" + "A" * 16,
        "table_id": table_id,
        "aggregate_type": "record",
        "aggregate_id": f"rec{seq:016d}",
        "version": 1,
        "payload": {"record": {"fields": {"Name": f"Change {seq}"}}},
    }
    return Published.of(events.Logged(wire))


def _queued(subscriber: Subscriber) -> list[Outgoing]:
    items = []
    while (item := subscriber.outbox.get_nowait()) is not None:
        items.append(item)
    return items


def _events(subscriber: Subscriber) -> list[EventOut]:
    return [item for item in _queued(subscriber) if isinstance(item, EventOut)]


def _subscribe(hub: Hub, subscriber: Subscriber, subscription_id: str, **filters: str) -> None:
    hub.subscribe(
        subscriber,
        subscription_id,
        Interest.of(["record"], filters),  # type: ignore[arg-type]
        since=None,
        scope_workspace=None,
    )


async def test_one_audience_shares_one_encoded_frame_and_non_members_get_nothing() -> None:
    hub = _hub()
    members = [_subscriber(f"usr{n}", {WORKSPACE}) for n in range(3)]
    stranger = _subscriber("usr-stranger", {OTHER_WORKSPACE})
    other_id = _subscriber("usr-other-id", {WORKSPACE})
    other_table = _subscriber("usr-other-table", {WORKSPACE})
    for subscriber in [*members, stranger, other_id, other_table]:
        hub.attach(subscriber)
    for subscriber in [*members, stranger]:
        _subscribe(hub, subscriber, "records", table_id=TABLE)
    _subscribe(hub, other_id, "mine", table_id=TABLE)
    _subscribe(hub, other_table, "records", table_id=OTHER_TABLE)
    for subscriber in [*members, stranger, other_id, other_table]:
        _queued(subscriber)  # the confirmations

    hub.received([_event(1)])

    delivered = [_events(subscriber) for subscriber in members]
    assert all(len(items) == 1 for items in delivered)
    shared = delivered[0][0]
    assert all(items[0] is shared for items in delivered)
    assert {frame(items[0]) for items in delivered} == {shared.text}
    assert '"subscription_id":"records"' in shared.text
    assert _events(stranger) == []
    assert _events(other_table) == []
    [mine] = _events(other_id)
    assert mine is not shared
    assert '"subscription_id":"mine"' in mine.text
    assert mine.text.removeprefix('{"type":"event","subscription_id":"mine"') == (
        shared.text.removeprefix('{"type":"event","subscription_id":"records"')
    )


async def test_events_are_dispatched_in_seq_order_whatever_order_commits_report_them() -> None:
    hub = _hub()
    subscriber = _subscriber("usr1", {WORKSPACE})
    hub.attach(subscriber)
    _subscribe(hub, subscriber, "records")
    _queued(subscriber)

    hub.received([_event(2)])
    assert _events(subscriber) == []  # seq 1 has not been taken yet
    hub.received([_event(1)])
    hub.received([_event(3)])

    assert [item.published.seq for item in _events(subscriber)] == [1, 2, 3]
    assert hub.position == 3


async def test_a_consumer_that_does_not_read_is_closed_and_the_others_get_everything() -> None:
    hub = _hub()
    stuck = _subscriber("usr-stuck", {WORKSPACE}, outbox_size=OUTBOX)
    reader = _subscriber("usr-reader", {WORKSPACE}, outbox_size=OUTBOX)
    for subscriber in (stuck, reader):
        hub.attach(subscriber)
        _subscribe(hub, subscriber, "records")
    _queued(reader)
    got: list[int] = []

    for seq in range(1, 2 * OUTBOX + 1):
        hub.received([_event(seq)])
        got.extend(item.published.seq for item in _events(reader))

    assert got == list(range(1, 2 * OUTBOX + 1))
    assert stuck.closed
    assert stuck.close_code == CLOSE_OVERLOADED
    assert len(stuck.outbox) <= OUTBOX
    assert hub.subscriber_count == 1


async def test_the_outbox_is_bounded_and_ends_after_what_it_holds() -> None:
    outbox: Outbox[int] = Outbox(2)
    assert outbox.put_nowait(1)
    assert outbox.put_nowait(2)
    assert not outbox.put_nowait(3)
    outbox.close()
    assert not outbox.put_nowait(4)
    assert [await outbox.get(), await outbox.get(), await outbox.get()] == [1, 2, None]


async def test_an_outbox_wakes_its_reader_and_a_putter_waiting_for_room() -> None:
    outbox: Outbox[int] = Outbox(1)
    got: list[int | None] = []
    put_done = anyio.Event()

    async def put_two() -> None:
        assert await outbox.put(1)
        assert await outbox.put(2)  # waits until the reader took 1
        put_done.set()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(put_two)
            got.append(await outbox.get())
            await put_done.wait()
            got.append(await outbox.get())
            outbox.close()
            got.append(await outbox.get())
    assert got == [1, 2, None]


async def test_releasing_an_outbox_ends_a_waiting_reader_and_putter() -> None:
    outbox: Outbox[int] = Outbox(1)
    assert outbox.put_nowait(1)
    results: list[object] = []

    async def put() -> None:
        results.append(await outbox.put(2))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(put)
            await anyio.wait_all_tasks_blocked()
            outbox.release()
    assert results == [False]
    assert await outbox.get() is None


async def test_a_cancelled_wait_leaves_the_outbox_usable() -> None:
    outbox: Outbox[int] = Outbox(4)
    with anyio.move_on_after(0.01):
        await outbox.wait()
    assert outbox.put_nowait(7)
    with anyio.fail_after(5):
        assert await outbox.get() == 7


def _writer(written: dict[str, list[list[Outgoing]]], subscriber: Subscriber) -> None:
    """Make ``subscriber``'s transport one that writes from the flusher's call, into ``written``
    (one list per write)."""

    def flush() -> None:
        items = subscriber.outbox.take()
        if items:
            written.setdefault(subscriber.user_id, []).append(items)

    subscriber.flush = flush


async def test_an_event_is_written_at_once_to_a_bound_of_sockets_and_to_the_rest_soon_after() -> (
    None
):
    hub = _hub()
    written: dict[str, list[list[Outgoing]]] = {}
    subscribers = [_subscriber(f"usr{n:03d}", {WORKSPACE}) for n in range(FLUSHED_AT_ONCE + 6)]
    for subscriber in subscribers:
        hub.attach(subscriber)
        _writer(written, subscriber)
        _subscribe(hub, subscriber, "records")
    await anyio.wait_all_tasks_blocked()  # the confirmations go out on the flusher's pass
    assert all(len(written[s.user_id]) == 1 for s in subscribers)
    written.clear()

    hub.received([_event(1)])

    # The dispatch wrote to the first sockets itself; the rest wait for the loop's next pass.
    assert len(written) == FLUSHED_AT_ONCE
    late = [s for s in subscribers if s.user_id not in written]
    assert len(late) == 6
    assert all(len(s.outbox) == 1 for s in late)
    hub.received([_event(2)])  # a second event before the pass: one write for both
    await anyio.wait_all_tasks_blocked()

    for subscriber in late:
        [items] = written[subscriber.user_id]
        assert [cast(EventOut, item).published.seq for item in items] == [1, 2]
    # The same frame, whichever way it went.
    frames = {frame(writes[0][0]) for writes in written.values()}
    assert len(frames) == 1
    assert all(not s.outbox for s in subscribers)


async def test_the_flusher_spreads_many_sockets_over_passes_of_the_loop() -> None:
    flusher = Flusher(at_once=2, per_pass=3)
    flushed: list[int] = []
    subscribers = []
    for n in range(8):
        subscriber = _subscriber(f"usr{n}", {WORKSPACE})
        subscriber.flush = partial(flushed.append, n)
        subscribers.append(subscriber)
        flusher.due(subscriber)
        flusher.due(subscriber)  # queued once however often it is due
    assert len(flusher) == 8

    flusher.flush_now()
    assert flushed == [0, 1]
    await anyio.lowlevel.checkpoint()  # one pass of the loop
    assert flushed == [0, 1, 2, 3, 4]
    subscribers[6].flush = None  # its transport ended meanwhile: skipped
    await anyio.wait_all_tasks_blocked()
    assert flushed == [0, 1, 2, 3, 4, 5, 7]
    assert len(flusher) == 0
    assert not any(s.flush_due for s in subscribers)


def _membership(seq: int, kind: str, user_id: str, *, workspace_id: str = WORKSPACE) -> Published:
    payload: dict[str, Any] = {"member": {"user_id": user_id, "role": "editor"}}
    if kind == "workspace.created":
        payload = {"workspace": {"id": workspace_id, "owner_id": user_id}}
    wire: dict[str, Any] = {
        "seq": seq,
        "id": f"evt{seq:016d}",
        "type": kind,
        "channel": "workspace",
        "workspace_id": workspace_id,
        "aggregate_type": "workspace",
        "aggregate_id": workspace_id,
        "version": 1,
        "payload": payload,
    }
    recipients = frozenset({user_id}) if kind == "workspace.member_removed" else frozenset()
    return Published.of(events.Logged(wire, recipients))


def _read_at(user_id: str, workspaces: set[str], head: int) -> Subscriber:
    """A subscriber whose memberships were read when the log's head was ``head``."""
    subscriber = _subscriber(user_id, workspaces)
    subscriber.authenticated_at = head
    return subscriber


@pytest.mark.parametrize("kind", ["workspace.created", "workspace.member_added"])
async def test_a_membership_gained_between_authenticating_and_attaching_is_kept(kind: str) -> None:
    hub = _hub()
    # Its workspaces were read at seq 0; the joining event is dispatched before it attaches.
    subscriber = _read_at("usr-new", set(), head=0)
    hub.received([_membership(1, kind, "usr-new")])
    hub.attach(subscriber)
    _subscribe(hub, subscriber, "records")
    _queued(subscriber)

    hub.received([_event(2)])

    assert [item.published.seq for item in _events(subscriber)] == [2]


@pytest.mark.parametrize("kind", ["workspace.member_removed", "workspace.deleted"])
async def test_a_membership_lost_between_authenticating_and_attaching_is_gone(kind: str) -> None:
    hub = _hub()
    subscriber = _read_at("usr-gone", {WORKSPACE}, head=0)
    hub.received([_membership(1, kind, "usr-gone")])
    hub.attach(subscriber)
    _subscribe(hub, subscriber, "records")
    _queued(subscriber)

    hub.received([_event(2)])

    assert _events(subscriber) == []
    assert WORKSPACE not in subscriber.workspaces


async def test_membership_changes_before_the_read_are_not_applied_twice() -> None:
    hub = _hub()
    # Added at 1, removed at 2 and added again at 3: a read at 3 saw the membership.
    for published in (
        _membership(1, "workspace.member_added", "usr-back"),
        _membership(2, "workspace.member_removed", "usr-back"),
        _membership(3, "workspace.member_added", "usr-back"),
    ):
        hub.received([published])
    fresh = _read_at("usr-back", {WORKSPACE}, head=3)
    # A read at 1 saw the first membership; the removal and the second joining came after it.
    stale = _read_at("usr-back", {WORKSPACE}, head=1)
    for subscriber in (fresh, stale):
        hub.attach(subscriber)
        _subscribe(hub, subscriber, "records")
        _queued(subscriber)

    hub.received([_event(4)])

    assert [item.published.seq for item in _events(fresh)] == [4]
    assert [item.published.seq for item in _events(stale)] == [4]


async def test_a_subscriber_read_before_what_the_hub_remembers_is_told_to_reconnect() -> None:
    hub = _hub()
    for seq in range(1, MEMBERSHIP_MEMORY + 2):
        hub.received([_membership(seq, "workspace.member_added", f"usr{seq}")])
    subscriber = _read_at("usr-slow", set(), head=0)
    hub.attach(subscriber)

    assert subscriber.closed
    assert subscriber.close_code == CLOSE_OVERLOADED
    assert hub.subscriber_count == 0
