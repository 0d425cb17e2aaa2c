"""The event log (contract §8): one event per change, in the change's transaction, numbered by a
global gap-free ``seq``; ``GET /events`` with its filters, limits and ``reset``; who may read
what; list answers' ``event_position``; retention.

Tests that count positions over the whole log use the per-test ``api`` fixture: a fresh app on an
empty database. Other people's changes add event types (workspace and member events), so
expectations are filtered by channel or table, or computed from the log itself.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import anyio
import httpx2
import pytest
from sqlalchemy import select

from pyairtable_server import events as event_log
from pyairtable_server.clock import utcnow
from pyairtable_server.db.models import Event

from .backend import Actor, Api

pytestmark = pytest.mark.anyio

JSON = dict[str, Any]
EVENT_KEYS = {
    "id",
    "seq",
    "type",
    "channel",
    "workspace_id",
    "base_id",
    "table_id",
    "aggregate_type",
    "aggregate_id",
    "version",
    "occurred_at",
    "user_id",
    "payload",
}
EVENT_ID = re.compile(r"^evt[0-9A-Za-z]{14,}$")
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


# --- helpers ---------------------------------------------------------------------------------


async def read_page(api: Api, actor: Actor, **params: Any) -> JSON:
    """One ``GET /events`` answer (200)."""
    response = await api.client.get("/events", params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    body: JSON = response.json()
    assert set(body) == {"data", "next_since", "reset"}
    return body


async def read_all(
    api: Api, actor: Actor, *, since: int = 0, limit: int = 1000, **filters: Any
) -> list[JSON]:
    """Every event ``actor`` may read after ``since``, paging with ``limit`` and ``next_since``."""
    found: list[JSON] = []
    while True:
        page = await read_page(api, actor, since=since, limit=limit, **filters)
        assert page["reset"] is False
        found += page["data"]
        if page["data"]:
            # A full page resumes right after its last event.
            if len(page["data"]) == limit:
                assert page["next_since"] == page["data"][-1]["seq"]
            assert page["next_since"] >= page["data"][-1]["seq"]
        assert page["next_since"] >= since
        if len(page["data"]) < limit:
            return found
        since = page["next_since"]


async def log_seqs(api: Api) -> list[int]:
    """Every ``seq`` in the database's log, whoever may read it."""
    async with api.app.state.services.db.reader() as session:
        return list(await session.scalars(select(Event.seq).order_by(Event.seq)))


async def head(api: Api) -> int:
    """The log's head position, read from the database."""
    async with api.app.state.services.db.reader() as session:
        return await event_log.position(session)


def assert_event_shape(event: JSON) -> None:
    """The top-level fields of a contract §8 event."""
    assert set(event) == EVENT_KEYS, event
    assert EVENT_ID.match(event["id"]), event["id"]
    assert isinstance(event["seq"], int)
    assert event["channel"] == event["type"].partition(".")[0]
    assert RFC3339_UTC.match(event["occurred_at"]), event["occurred_at"]
    assert isinstance(event["payload"], dict)


def assert_error(response: httpx2.Response, status: int, error_type: str) -> JSON:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["type"] == error_type, body
    details: JSON = body["error"]["details"]
    return details


class World:
    """An owner with a workspace, a base and a table of Name (text) and N (number)."""

    def __init__(self, api: Api, owner: Actor, workspace: JSON, base: JSON, table: JSON) -> None:
        self.api, self.owner = api, owner
        self.workspace, self.base, self.table = workspace, base, table

    @classmethod
    async def make(cls, api: Api, owner: Actor | None = None) -> World:
        owner = owner or await api.actor()
        workspace = await api.workspace(owner)
        base = await api.base(owner, workspace["id"])
        table = await api.table(
            owner, base["id"], [{"name": "Name", "type": "text"}, {"name": "N", "type": "number"}]
        )
        return cls(api, owner, workspace, base, table)

    @property
    def wid(self) -> str:
        return str(self.workspace["id"])

    @property
    def tid(self) -> str:
        return str(self.table["id"])

    async def record(self, fields: JSON, actor: Actor | None = None) -> JSON:
        record: JSON = await self.api.post(
            actor or self.owner, "/records", {"table_id": self.tid, "fields": fields}
        )
        return record

    async def patch(self, record_id: str, fields: JSON, actor: Actor | None = None) -> JSON:
        response = await self.api.client.patch(
            f"/records/{record_id}", json={"fields": fields}, headers=(actor or self.owner).headers
        )
        assert response.status_code == 200, response.text
        body: JSON = response.json()
        return body


# --- one event per change, with the contract's shape -----------------------------------------


async def test_record_changes_have_events_with_the_contract_payloads(api: Api) -> None:
    """Create, PATCH, PUT and DELETE of a record each leave one event: created with the record,
    updated with the record and {field: {old, new}} changes, deleted with the record id."""
    w = await World.make(api)
    created = await w.record({"Name": "a", "N": 1})
    patched = await w.patch(created["id"], {"N": 2})
    put = await api.client.put(
        f"/records/{created['id']}", json={"fields": {"N": 3}}, headers=w.owner.headers
    )
    assert put.status_code == 200, put.text
    deleted = await api.client.delete(f"/records/{created['id']}", headers=w.owner.headers)
    assert deleted.status_code == 204

    found = await read_all(api, w.owner, channel="record")
    assert [e["type"] for e in found] == [
        "record.created",
        "record.updated",
        "record.updated",
        "record.deleted",
    ]
    for event in found:
        assert_event_shape(event)
        assert event["channel"] == "record"
        assert event["aggregate_type"] == "record"
        assert event["aggregate_id"] == created["id"]
        assert event["workspace_id"] == w.wid
        assert event["base_id"] == w.base["id"]
        assert event["table_id"] == w.tid
        assert event["user_id"] == w.owner.id
    create_event, patch_event, put_event, delete_event = found
    assert create_event["version"] == 1
    assert create_event["payload"] == {"table_id": w.tid, "record": created}
    assert patch_event["version"] == 2
    assert patch_event["payload"] == {
        "table_id": w.tid,
        "record": patched,
        "changes": {"N": {"old": 1, "new": 2}},
    }
    assert put_event["version"] == 3
    assert put_event["payload"] == {
        "table_id": w.tid,
        "record": put.json(),
        "changes": {"Name": {"old": "a", "new": None}, "N": {"old": 2, "new": 3}},
    }
    assert delete_event["payload"] == {"table_id": w.tid, "record_id": created["id"]}
    assert isinstance(delete_event["version"], int)
    assert delete_event["version"] >= 3
    seqs = [e["seq"] for e in found]
    assert seqs == sorted(seqs)
    assert len({e["id"] for e in found}) == 4


async def test_batch_writes_leave_one_event_per_record(api: Api) -> None:
    """A batch of three creates three record.created events, in order; a batch update one
    record.updated per changed record; a batch delete one record.deleted each."""
    w = await World.make(api)
    batch = await api.post(
        w.owner,
        "/records/batch",
        {"table_id": w.tid, "records": [{"fields": {"N": n}} for n in range(3)]},
    )
    ids = [r["id"] for r in batch["data"]]
    response = await api.client.patch(
        "/records/batch",
        json={
            "table_id": w.tid,
            "records": [{"id": ids[0], "fields": {"N": 10}}, {"id": ids[1], "fields": {"N": 1}}],
        },
        headers=w.owner.headers,
    )
    assert response.status_code == 200, response.text
    await api.post(
        w.owner, "/records/batch-delete", {"table_id": w.tid, "ids": ids[1:]}, status=200
    )
    found = await read_all(api, w.owner, channel="record")
    assert [(e["type"], e["aggregate_id"]) for e in found] == [
        ("record.created", ids[0]),
        ("record.created", ids[1]),
        ("record.created", ids[2]),
        ("record.updated", ids[0]),
        ("record.deleted", ids[1]),
        ("record.deleted", ids[2]),
    ]
    assert [e["payload"]["record"] for e in found[:3]] == batch["data"]
    assert found[3]["payload"]["changes"] == {"N": {"old": 0, "new": 10}}


async def test_schema_changes_have_events_with_the_resource_or_its_id(api: Api) -> None:
    """Bases, tables, fields and views: created/updated carry the resource as answered,
    deleted carries its id."""
    owner = await api.actor()
    workspace = await api.workspace(owner)
    base = await api.base(owner, workspace["id"])
    h = owner.headers

    async def put(path: str, body: JSON) -> JSON:
        response = await api.client.put(path, json=body, headers=h)
        assert response.status_code == 200, response.text
        answer: JSON = response.json()
        return answer

    async def delete(path: str) -> None:
        response = await api.client.delete(path, headers=h)
        assert response.status_code == 204, response.text

    base_updated = await put(f"/bases/{base['id']}", {"name": "Renamed"})
    table = await api.table(owner, base["id"])
    table_updated = await put(f"/tables/{table['id']}", {"description": "d"})
    field = await api.post(
        owner, "/fields", {"table_id": table["id"], "name": "N", "type": "number"}
    )
    field_updated = await put(f"/fields/{field['id']}", {"name": "Count"})
    view = await api.post(owner, "/views", {"table_id": table["id"], "name": "V"})
    view_updated = await put(f"/views/{view['id']}", {"name": "W"})
    await delete(f"/views/{view['id']}")
    await delete(f"/fields/{field['id']}")
    await delete(f"/tables/{table['id']}")
    await delete(f"/bases/{base['id']}")

    found = await read_all(api, owner, channel=["base", "table", "field", "view"])
    expected = [
        ("base.created", base["id"], {"base": base}),
        ("base.updated", base["id"], {"base": base_updated}),
        ("table.created", table["id"], {"table": table}),
        ("table.updated", table["id"], {"table": table_updated}),
        ("field.created", field["id"], {"field": field}),
        ("field.updated", field["id"], {"field": field_updated}),
        ("view.created", view["id"], {"view": view}),
        ("view.updated", view["id"], {"view": view_updated}),
        ("view.deleted", view["id"], {"view_id": view["id"]}),
        ("field.deleted", field["id"], {"field_id": field["id"]}),
        ("table.deleted", table["id"], {"table_id": table["id"]}),
        ("base.deleted", base["id"], {"base_id": base["id"]}),
    ]
    assert [(e["type"], e["aggregate_id"], e["payload"]) for e in found] == expected
    for event in found:
        assert_event_shape(event)
        assert event["aggregate_type"] == event["channel"]
        assert event["workspace_id"] == workspace["id"]
        assert event["base_id"] == base["id"]
        assert event["user_id"] == owner.id
        assert event["version"] is None
        if event["channel"] != "base":
            assert event["table_id"] == table["id"]


async def test_seq_is_gap_free_and_increasing_over_the_whole_log(api: Api) -> None:
    """After all sorts of changes, the log's positions are exactly 1, 2, …, head, and a reader
    who sees every workspace reads exactly those."""
    w = await World.make(api)
    other = await api.actor()
    await api.add_member(w.owner, w.wid, other, "editor")
    record = await w.record({"N": 1})
    await w.patch(record["id"], {"N": 2}, actor=other)
    await api.post(w.owner, "/fields", {"table_id": w.tid, "name": "Extra", "type": "text"})
    await api.post(w.owner, "/views", {"table_id": w.tid, "name": "V"})
    await api.base(w.owner, w.wid, name="Second")
    position = await head(api)
    assert await log_seqs(api) == list(range(1, position + 1))
    seen = await read_all(api, w.owner)
    assert [e["seq"] for e in seen] == list(range(1, position + 1))
    assert len({e["id"] for e in seen}) == len(seen)
    page = await read_page(api, w.owner, since=0)
    assert page["next_since"] == position


async def test_twenty_concurrent_writers_leave_one_event_per_change_and_contiguous_seqs(
    api: Api,
) -> None:
    """20 writers at once, each creating three records and updating two: the log holds exactly
    one event per change, read back through pages of 7 with no gap, repeat or reordering."""
    w = await World.make(api)
    start = await head(api)
    results: dict[int, list[JSON]] = {}

    async def writer(n: int) -> None:
        mine = [await w.record({"Name": f"w{n}", "N": k}) for k in range(3)]
        mine[0] = await w.patch(mine[0]["id"], {"N": 100 + n})
        mine[1] = await w.patch(mine[1]["id"], {"Name": f"w{n}!"})
        results[n] = mine

    async with anyio.create_task_group() as group:
        for n in range(20):
            group.start_soon(writer, n)

    end = await head(api)
    assert end - start == 20 * 5
    assert await log_seqs(api) == list(range(1, end + 1))
    found = await read_all(api, w.owner, since=start, limit=7)
    assert [e["seq"] for e in found] == list(range(start + 1, end + 1))
    assert sum(e["type"] == "record.created" for e in found) == 60
    assert sum(e["type"] == "record.updated" for e in found) == 40
    by_record: dict[str, list[JSON]] = {}
    for event in found:
        by_record.setdefault(event["aggregate_id"], []).append(event)
    for records in results.values():
        for record in records:
            versions = [e["version"] for e in by_record[record["id"]]]
            assert versions == list(range(1, record["version"] + 1))
            assert by_record[record["id"]][-1]["payload"]["record"] == record


async def test_failed_and_empty_writes_leave_no_event(api: Api) -> None:
    """A 422, a 409, a 404, a refused batch, a reused idempotency key and a PATCH that
    changes nothing add nothing to the log."""
    w = await World.make(api)
    record = await w.record({"N": 1})
    await w.patch(record["id"], {"N": 2})
    h = w.owner.headers
    before = await head(api)
    path = f"/records/{record['id']}"
    answers = [
        await api.client.post(
            "/records", json={"table_id": w.tid, "fields": {"N": "x"}}, headers=h
        ),
        await api.client.patch(path, json={"fields": {"N": 5}}, headers={**h, "If-Match": '"1"'}),
        await api.client.delete(path, headers={**h, "If-Match": '"1"'}),
        await api.client.patch(
            "/records/recDoesNotExist00000", json={"fields": {"N": 5}}, headers=h
        ),
        await api.client.post(
            "/records/batch",
            json={"table_id": w.tid, "records": [{"fields": {"N": 1}}, {"fields": {"N": "x"}}]},
            headers=h,
        ),
        await api.client.post(
            "/records/batch-delete",
            json={"table_id": w.tid, "ids": [record["id"], "recDoesNotExist00000"]},
            headers=h,
        ),
        await api.client.post(
            "/fields", json={"table_id": w.tid, "name": "N", "type": "text"}, headers=h
        ),
    ]
    assert [a.status_code for a in answers] == [422, 409, 409, 404, 422, 422, 422]
    unchanged = await api.client.patch(path, json={"fields": {"N": 2}}, headers=h)
    assert unchanged.status_code == 200
    keyed = await api.client.patch(
        path, json={"fields": {"N": 3}}, headers={**h, "Idempotency-Key": "k"}
    )
    assert keyed.status_code == 200
    after_keyed = await head(api)
    assert after_keyed == before + 1
    reused = await api.client.patch(
        path, json={"fields": {"N": 4}}, headers={**h, "Idempotency-Key": "k"}
    )
    assert_error(reused, 422, "IDEMPOTENCY_KEY_REUSED")
    replayed = await api.client.patch(
        path, json={"fields": {"N": 3}}, headers={**h, "Idempotency-Key": "k"}
    )
    assert replayed.headers.get("Idempotent-Replayed") == "true"
    assert await head(api) == after_keyed
    assert [e["type"] for e in await read_all(api, w.owner, since=before)] == ["record.updated"]


# --- reading the log -------------------------------------------------------------------------


async def two_worlds(api: Api) -> tuple[Actor, World, World, JSON]:
    """One owner with two workspaces; the first has two tables. Some records in each."""
    owner = await api.actor()
    first, second = await World.make(api, owner), await World.make(api, owner)
    second_table = await api.table(owner, first.base["id"], [{"name": "Name", "type": "text"}])
    await first.record({"N": 1})
    await second.record({"N": 2})
    await api.post(owner, "/records", {"table_id": second_table["id"], "fields": {"Name": "x"}})
    await api.post(owner, "/fields", {"table_id": first.tid, "name": "More", "type": "text"})
    return owner, first, second, second_table


async def test_events_can_be_filtered_by_channel_workspace_and_table(api: Api) -> None:
    """channel (repeatable), workspace_id and table_id each keep only the matching events."""
    owner, first, second, second_table = await two_worlds(api)
    everything = await read_all(api, owner)
    assert {e["channel"] for e in everything} >= {"base", "table", "field", "record"}

    def only(**match: Any) -> list[JSON]:
        return [
            e
            for e in everything
            if all(
                e[key] in value if isinstance(value, list) else e[key] == value
                for key, value in match.items()
            )
        ]

    cases: list[tuple[JSON, list[JSON]]] = [
        ({"channel": "record"}, only(channel="record")),
        ({"channel": ["record", "field"]}, only(channel=["record", "field"])),
        ({"workspace_id": first.wid}, only(workspace_id=first.wid)),
        ({"workspace_id": second.wid}, only(workspace_id=second.wid)),
        ({"table_id": second_table["id"]}, only(table_id=second_table["id"])),
        (
            {"table_id": first.tid, "channel": "record"},
            only(table_id=first.tid, channel="record"),
        ),
        (
            {"workspace_id": first.wid, "channel": ["table", "field"]},
            only(workspace_id=first.wid, channel=["table", "field"]),
        ),
        ({"channel": "nothing-like-it"}, []),
    ]
    for filters, expected in cases[:-1]:
        assert expected, filters  # every case but the last keeps something
    for filters, expected in cases:
        assert await read_all(api, owner, **filters) == expected, filters
    assert [e["type"] for e in only(table_id=second_table["id"], channel="record")] == [
        "record.created"
    ]


async def test_limit_is_at_most_1000(api: Api) -> None:
    """limit takes 1 to 1000; 0, 1001 and a negative since are 422."""
    owner = await api.actor()
    await api.workspace(owner)
    assert (await read_page(api, owner, limit=1000))["reset"] is False
    assert (await read_page(api, owner, limit=1))["reset"] is False
    for params in ({"limit": 1001}, {"limit": 0}, {"since": -1}):
        response = await api.client.get("/events", params=params, headers=owner.headers)
        assert_error(response, 422, "VALIDATION_ERROR")


async def test_filters_with_control_characters_are_422_not_a_database_error(api: Api) -> None:
    """A NUL in a filter value never reaches the database (PostgreSQL refuses NUL in text)."""
    owner = await api.actor()
    for params in ({"table_id": "tbl\x00"}, {"workspace_id": "\x00"}, {"channel": "rec\x00ord"}):
        response = await api.client.get("/events", params=params, headers=owner.headers)
        assert_error(response, 422, "VALIDATION_ERROR")


async def test_next_since_resumes_after_each_page_without_loss(api: Api) -> None:
    """Pages of 2 joined together equal one page of 1000; a full page's next_since is its last
    seq; a short page's next_since is the head; reading from the head gives nothing new."""
    owner, *_ = await two_worlds(api)
    whole = await read_all(api, owner)
    assert await read_all(api, owner, limit=2) == whole
    assert await read_all(api, owner, limit=3, since=whole[1]["seq"]) == whole[2:]
    first_page = await read_page(api, owner, since=0, limit=2)
    assert first_page["next_since"] == first_page["data"][-1]["seq"]
    last = await read_page(api, owner, since=whole[-1]["seq"], limit=2)
    assert last == {"data": [], "next_since": await head(api), "reset": False}


# --- who sees what ---------------------------------------------------------------------------


async def test_a_non_member_sees_none_of_a_workspaces_events(api: Api) -> None:
    """Someone outside the workspace reads nothing of it; asking for it by id is 404, exactly
    as for ids that do not exist (as SSE answers)."""
    w = await World.make(api)
    await w.record({"N": 1})
    stranger = await api.actor()
    seen = await read_all(api, stranger)
    assert all(e["workspace_id"] != w.wid for e in seen)
    for params in (
        {"workspace_id": w.wid},
        {"base_id": w.base["id"]},
        {"table_id": w.tid},
        {"workspace_id": "wsp" + "A" * 16},
        {"base_id": "bas" + "A" * 16},
        {"table_id": "tbl" + "A" * 16},
    ):
        response = await api.client.get("/events", params=params, headers=stranger.headers)
        noun = next(iter(params)).removesuffix("_id")
        assert_error(response, 404, "NOT_FOUND")
        assert response.json()["error"]["message"] == f"No such {noun}.", params


async def test_events_can_be_filtered_by_base_and_aggregate_like_websocket_and_sse(
    api: Api,
) -> None:
    owner, first, _, second_table = await two_worlds(api)
    everything = await read_all(api, owner)
    in_base = [e for e in everything if e["base_id"] == first.base["id"]]
    assert {e["table_id"] for e in in_base} >= {first.tid, second_table["id"]}
    assert await read_all(api, owner, base_id=first.base["id"]) == in_base
    record = next(e for e in everything if e["channel"] == "record")
    of_record = [e for e in everything if e["aggregate_id"] == record["aggregate_id"]]
    assert await read_all(api, owner, aggregate_id=record["aggregate_id"]) == of_record
    assert await read_all(api, owner, aggregate_id="rec" + "A" * 16) == []


def _from_joining(events: list[JSON], member: Actor) -> list[JSON]:
    """``events`` from the one that made ``member`` a member on."""
    joined = next(
        index
        for index, event in enumerate(events)
        if event["type"] == "workspace.member_added"
        and event["payload"]["member"]["user_id"] == member.id
    )
    return events[joined:]


async def test_a_member_added_later_sees_the_workspaces_events_from_joining_on(api: Api) -> None:
    """Joining a workspace makes its events readable from the joining on: the history from
    before (erased values included) stays the earlier members' (README, "Event visibility")."""
    w = await World.make(api)
    early = await w.record({"N": 1})
    await w.patch(early["id"], {"N": None})  # a value erased before the newcomer came
    newcomer = await api.actor()
    outside = await api.client.get(
        "/events", params={"workspace_id": w.wid}, headers=newcomer.headers
    )
    assert_error(outside, 404, "NOT_FOUND")  # not a member yet
    await api.add_member(w.owner, w.wid, newcomer, "editor")
    late = await w.record({"N": 2}, actor=newcomer)
    records = await read_all(api, newcomer, channel="record")
    assert [e["aggregate_id"] for e in records] == [late["id"]]
    assert records[0]["user_id"] == newcomer.id
    mine = await read_all(api, newcomer, workspace_id=w.wid)
    assert mine[0]["type"] == "workspace.member_added"
    assert mine == _from_joining(await read_all(api, w.owner, workspace_id=w.wid), newcomer)


async def test_a_member_who_left_and_came_back_sees_nothing_of_the_time_away(api: Api) -> None:
    w = await World.make(api)
    member = await api.actor()
    await api.add_member(w.owner, w.wid, member, "editor")
    before = await w.record({"N": 1})
    removed = await api.client.delete(
        f"/workspaces/{w.wid}/members/{member.id}", headers=w.owner.headers
    )
    assert removed.status_code == 204
    away = await w.record({"N": 2})
    await api.add_member(w.owner, w.wid, member, "editor")
    back = await w.record({"N": 3})
    seen = [e["aggregate_id"] for e in await read_all(api, member, channel="record")]
    assert away["id"] not in seen
    assert back["id"] in seen
    assert before["id"] not in seen  # the membership that saw it has ended


async def test_a_viewer_sees_the_workspaces_events(api: Api) -> None:
    """Read access is enough to read the log: a viewer sees what the owner sees."""
    w = await World.make(api)
    viewer = await api.actor()
    await api.add_member(w.owner, w.wid, viewer, "viewer")
    record = await w.record({"N": 1})
    await w.patch(record["id"], {"N": 2})
    assert await read_all(api, viewer, workspace_id=w.wid) == _from_joining(
        await read_all(api, w.owner, workspace_id=w.wid), viewer
    )
    viewer_records = await read_all(api, viewer, channel="record")
    assert [e["type"] for e in viewer_records] == ["record.created", "record.updated"]


# --- event_position on lists -----------------------------------------------------------------


async def test_list_answers_carry_the_logs_head_as_event_position(api: Api) -> None:
    """GET /records, /bases, /tables, /fields and /views carry pagination.event_position, the
    log's head when the list was read."""
    w = await World.make(api)
    await w.record({"N": 1})
    await api.post(w.owner, "/views", {"table_id": w.tid, "name": "V"})
    lists = [
        ("/records", {"table_id": w.tid}),
        ("/bases", {"workspace_id": w.wid}),
        ("/tables", {"base_id": w.base["id"]}),
        ("/fields", {"table_id": w.tid}),
        ("/views", {"table_id": w.tid}),
    ]
    for path, params in lists:
        position = await head(api)
        response = await api.client.get(path, params=params, headers=w.owner.headers)
        assert response.status_code == 200, response.text
        assert response.json()["pagination"]["event_position"] == position, path
        await w.record({"N": 0})  # the head moves between lists
    query = await api.client.post(
        "/records/query", json={"table_id": w.tid}, headers=w.owner.headers
    )
    assert query.json()["pagination"]["event_position"] == await head(api)


async def test_subscribing_from_a_lists_event_position_misses_nothing(api: Api) -> None:
    """Read a list, change something, read the log since the list's position: exactly the
    change is there."""
    w = await World.make(api)
    record = await w.record({"N": 1})
    listing = await api.client.get("/records", params={"table_id": w.tid}, headers=w.owner.headers)
    position = listing.json()["pagination"]["event_position"]
    assert listing.json()["data"] == [record]
    patched = await w.patch(record["id"], {"N": 2})
    since = await read_all(api, w.owner, since=position)
    assert [(e["type"], e["payload"]["record"]) for e in since] == [("record.updated", patched)]
    tables = await api.client.get(
        "/tables", params={"base_id": w.base["id"]}, headers=w.owner.headers
    )
    table_position = tables.json()["pagination"]["event_position"]
    field = await api.post(w.owner, "/fields", {"table_id": w.tid, "name": "New", "type": "text"})
    since = await read_all(api, w.owner, since=table_position)
    assert [(e["type"], e["aggregate_id"]) for e in since] == [("field.created", field["id"])]


# --- retention -------------------------------------------------------------------------------


async def prune(api: Api, *, now: datetime, max_age: timedelta, max_events: int) -> int:
    async with api.app.state.services.db.writer() as session:
        return await event_log.prune(session, now=now, max_age=max_age, max_events=max_events)


async def test_reading_from_before_pruned_events_answers_reset(api: Api) -> None:
    """After retention removes the oldest events, a reader from before them gets reset: true and
    no events; a reader from the pruned position on reads normally."""
    w = await World.make(api)
    for n in range(6):
        await w.record({"N": n})
    end = await head(api)
    pruned_through = await prune(api, now=utcnow(), max_age=timedelta(days=7), max_events=4)
    assert pruned_through == end - 4
    assert await log_seqs(api) == list(range(end - 3, end + 1))
    for since in (0, pruned_through - 1):
        page = await read_page(api, w.owner, since=since)
        assert page == {"data": [], "next_since": end, "reset": True}
    page = await read_page(api, w.owner, since=pruned_through)
    assert page["reset"] is False
    assert [e["seq"] for e in page["data"]] == list(range(end - 3, end + 1))
    assert (await read_page(api, w.owner, since=end))["data"] == []
    record = await w.record({"N": 99})
    after = await read_page(api, w.owner, since=end)
    assert [e["aggregate_id"] for e in after["data"]] == [record["id"]]


async def test_events_older_than_the_retention_age_are_pruned(api: Api) -> None:
    """Pruning by age removes every event older than max_age; reading from 0 is then reset."""
    w = await World.make(api)
    await w.record({"N": 1})
    end = await head(api)
    later = utcnow() + timedelta(days=8)
    assert await prune(api, now=later, max_age=timedelta(days=7), max_events=1_000_000) == end
    assert await log_seqs(api) == []
    assert (await read_page(api, w.owner, since=0))["reset"] is True
    assert await read_page(api, w.owner, since=end) == {
        "data": [],
        "next_since": end,
        "reset": False,
    }
    record = await w.record({"N": 2})
    assert await log_seqs(api) == [end + 1]
    after = await read_all(api, w.owner, since=end)
    assert [e["aggregate_id"] for e in after] == [record["id"]]


async def test_pruning_keeps_what_is_within_retention(api: Api) -> None:
    """Events younger than max_age and within max_events stay; pruning again changes nothing."""
    w = await World.make(api)
    await w.record({"N": 1})
    before = await log_seqs(api)
    assert await prune(api, now=utcnow(), max_age=timedelta(days=7), max_events=1000) == 0
    assert await log_seqs(api) == before
    assert (await read_page(api, w.owner, since=0))["reset"] is False


async def test_since_beyond_the_head_answers_reset(api: Api) -> None:
    """A position the log never reached (another database's) is reset: true."""
    w = await World.make(api)
    end = await head(api)
    page = await read_page(api, w.owner, since=end + 1)
    assert page == {"data": [], "next_since": end, "reset": True}
    assert (await read_page(api, w.owner, since=10**9))["reset"] is True
