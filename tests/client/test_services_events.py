"""EventService against the real backend: the event log after writes, paging and reset."""

from __future__ import annotations

import pytest

from pyairtable_integration import EventsResetError, NotFoundError, PyAirtableIntegration

from .conftest import Backend, IntegrationFactory, sign_in

pytestmark = pytest.mark.anyio


async def _table(pa: PyAirtableIntegration) -> tuple[str, str]:
    workspace = await pa.services.workspace.create_workspace(name="Events")
    base = await pa.services.base.create_base(workspace_id=workspace.id, name="B")
    table = await pa.services.table.create_table(base_id=base.id, name="T")
    return workspace.id, table.id


async def test_event_page_after_writes_has_them_in_order_and_filters(
    pa: PyAirtableIntegration,
) -> None:
    workspace_id, table_id = await _table(pa)
    start = (await pa.services.event.get_events(workspace_id=workspace_id)).next_since
    created = await pa.services.record.create_record(table_id, {"Name": "a"})
    await pa.services.record.update_record(created.id, {"Name": "b"})

    page = await pa.services.event.get_events(since=start, table_id=table_id)
    records_only = await pa.services.event.get_events(
        since=0, workspace_id=workspace_id, channel="record"
    )
    tables_and_records = await pa.services.event.get_events(
        since=0, workspace_id=workspace_id, channel=["record", "table"]
    )

    assert [event.type for event in page.data] == ["record.created", "record.updated"]
    assert [event.aggregate_id for event in page.data] == [created.id, created.id]
    assert [event.version for event in page.data] == [1, 2]
    assert page.data[0].seq < page.data[1].seq <= page.next_since
    assert not page.reset
    assert {event.channel for event in records_only.data} == {"record"}
    assert {event.channel for event in tables_and_records.data} == {"record", "table"}


async def test_base_and_aggregate_narrow_the_log_and_a_stranger_s_base_is_not_found(
    pa: PyAirtableIntegration, make_integration: IntegrationFactory, backend: Backend
) -> None:
    workspace_id, table_id = await _table(pa)
    start = (await pa.services.event.get_events(workspace_id=workspace_id)).next_since
    other_base = await pa.services.base.create_base(workspace_id=workspace_id, name="Other")
    other_table = await pa.services.table.create_table(base_id=other_base.id, name="T")
    first, second = await pa.services.record.create_records(
        table_id, [{"Name": "first"}, {"Name": "second"}]
    )
    await pa.services.record.update_record(first.id, {"Name": "first again"})
    await pa.services.record.create_record(other_table.id, {"Name": "elsewhere"})
    table = await pa.services.table.get_table(table_id)
    stranger = await make_integration()
    await sign_in(stranger, backend)

    one_record = [
        event async for event in pa.services.event.iter_events(since=start, aggregate_id=first.id)
    ]
    one_base = await pa.services.event.get_events(since=start, base_id=table.base_id)

    assert [(event.type, event.version) for event in one_record] == [
        ("record.created", 1),
        ("record.updated", 2),
    ]
    assert {event.aggregate_id for event in one_base.data if event.channel == "record"} == {
        first.id,
        second.id,
    }
    with pytest.raises(NotFoundError):
        await stranger.services.event.get_events(base_id=table.base_id)


async def test_limit_pages_the_log_and_iter_events_follows_next_since_lazily(
    pa: PyAirtableIntegration, backend: Backend
) -> None:
    workspace_id, table_id = await _table(pa)
    start = (await pa.services.event.get_events(workspace_id=workspace_id)).next_since
    await pa.services.record.create_records(table_id, [{"Name": str(n)} for n in range(3)])

    first = await pa.services.event.get_events(since=start, table_id=table_id, limit=2)
    before = backend.count("GET", "/api/v1/events")
    events = pa.services.event.iter_events(since=start, table_id=table_id, limit=2)
    seen = [await anext(events), await anext(events)]
    after_page_one = backend.count("GET", "/api/v1/events") - before
    seen.append(await anext(events))
    after_page_two = backend.count("GET", "/api/v1/events") - before
    with pytest.raises(StopAsyncIteration):
        await anext(events)

    assert len(first.data) == 2 and first.next_since == first.data[-1].seq
    assert (after_page_one, after_page_two) == (1, 2)
    assert [event.type for event in seen] == ["record.created"] * 3
    assert [event.seq for event in seen] == sorted(event.seq for event in seen)
    # The last call is the empty page that says the loop is caught up.
    assert backend.count("GET", "/api/v1/events") - before == 3


async def test_a_position_the_log_cannot_serve_is_a_reset(pa: PyAirtableIntegration) -> None:
    head = (await pa.services.event.get_events()).next_since
    ahead = head + 1_000_000

    page = await pa.services.event.get_events(since=ahead)
    with pytest.raises(EventsResetError) as reset:
        async for _ in pa.services.event.iter_events(since=ahead):
            pass

    assert page.reset and page.data == []
    assert reset.value.next_since == page.next_since
    assert reset.value.type == "EVENTS_RESET"
