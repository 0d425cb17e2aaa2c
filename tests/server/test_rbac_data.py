"""The role matrix of contract §4 on every data route: bases, tables, fields, views, records.

Every (route, caller) pair is its own test. The caller is the workspace's owner, an admin, an
editor, a viewer, or a signed-in user who is no member at all. The contract says:

- reads (``base:read``, ``table:read``, ``record:read``): every member;
- record writes (``record:write``): owners, admins and editors;
- base, table, field and view writes (``base:write`` … ``view:write``): owners and admins;
- a member whose role lacks the permission: 403 ``PERMISSION_DENIED``;
- a non-member: 404 ``NOT_FOUND`` for everything inside the workspace, real ids included.
- ``GET /events``: the events of the caller's workspaces; a non-member gets an empty list.

After each request the test checks the outcome as the owner sees it: an allowed write is visible,
a refused one changed nothing, and the event log of the workspace grew exactly when a write was
allowed. The expected matrix below is copied from the contract's table, not imported from the
server. One app and one shared workspace serve the module; read tests read objects no test
writes to, and every write test acts on objects made for it alone.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest

from pyairtable_server.settings import Settings

from .backend import Actor, Api, running_api

pytestmark = pytest.mark.anyio

ROLES = ("owner", "admin", "editor", "viewer")
NON_MEMBER = "non-member"
CALLERS = (*ROLES, NON_MEMBER)

_ALL = frozenset(ROLES)
_WRITERS = frozenset({"owner", "admin", "editor"})
_ADMINS = frozenset({"owner", "admin"})

#: Contract §4, the rows that govern the data routes.
CONTRACT_MATRIX: dict[str, frozenset[str]] = {
    # | workspace:read, base:read, table:read, record:read, file:read | ✓ | ✓ | ✓ | ✓ |
    "base:read": _ALL,
    "table:read": _ALL,
    "record:read": _ALL,
    # | record:write, file:write | ✓ | ✓ | ✓ | |
    "record:write": _WRITERS,
    # | base:write, table:write, field:write, view:write, webhook:write | ✓ | ✓ | | |
    "base:write": _ADMINS,
    "table:write": _ADMINS,
    "field:write": _ADMINS,
    "view:write": _ADMINS,
}

_ERROR_TYPES = {403: "PERMISSION_DENIED", 404: "NOT_FOUND"}


def expected_status(caller: str, permission: str, ok: int) -> int:
    """What the contract says ``caller`` gets for a request that needs ``permission``."""
    if caller == NON_MEMBER:
        return 404
    return ok if caller in CONTRACT_MATRIX[permission] else 403


def assert_outcome(response: httpx2.Response, caller: str, permission: str, ok: int) -> bool:
    """Assert the status (and error type) the contract prescribes; return whether it was allowed."""
    expected = expected_status(caller, permission, ok)
    assert response.status_code == expected, response.text
    if expected >= 400:
        assert response.json()["error"]["type"] == _ERROR_TYPES[expected]
    return expected == ok


def unique(prefix: str) -> str:
    return f"{prefix} {secrets.token_hex(4)}"


# --- the module's users, its shared workspace, and what lives in it ------------------------


@dataclass
class World:
    """Users in every role of one workspace, objects for read tests, and helpers for write tests.

    ``base``, ``table``, ``view`` and ``records`` are only ever read. Write tests create what they
    act on: bases in the workspace, tables in ``scratch_base``, records in ``scratch_table``.
    """

    api: Api
    actors: dict[str, Actor]
    workspace_id: str
    base: dict[str, Any]
    table: dict[str, Any]
    view: dict[str, Any]
    records: list[dict[str, Any]]
    scratch_base_id: str
    scratch_table_id: str
    mark: int = field(default=0)

    @property
    def client(self) -> httpx2.AsyncClient:
        return self.api.client

    @property
    def owner(self) -> Actor:
        return self.actors["owner"]

    async def call(
        self,
        caller: str,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> httpx2.Response:
        """Send a request as ``caller``, first noting the event position to compare with."""
        self.mark = await self.position()
        return await self.client.request(
            method, path, json=body, params=params, headers=self.actors[caller].headers
        )

    async def owner_get(self, path: str, **params: Any) -> httpx2.Response:
        return await self.client.get(path, params=params, headers=self.owner.headers)

    async def owner_read(self, path: str, **params: Any) -> Any:
        """GET as the owner, insisting on 200; the decoded body."""
        response = await self.owner_get(path, **params)
        assert response.status_code == 200, response.text
        return response.json()

    async def position(self) -> int:
        """The event log's head, read as the owner."""
        body = await self.owner_read("/bases", workspace_id=self.workspace_id, per_page=1)
        return int(body["pagination"]["event_position"])

    async def events_since(self, since: int) -> list[dict[str, Any]]:
        """The workspace's events after ``since``, as the owner reads them."""
        body = await self.owner_read(
            "/events", since=since, workspace_id=self.workspace_id, limit=1000
        )
        events: list[dict[str, Any]] = body["data"]
        return events

    async def owner_post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = await self.api.post(self.owner, path, body)
        return answer

    async def fresh_base(self) -> dict[str, Any]:
        return await self.api.base(self.owner, self.workspace_id, name=unique("Fresh"))

    async def fresh_table(self, fields: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return await self.api.table(self.owner, self.scratch_base_id, fields)

    async def fresh_field(self, table_id: str) -> dict[str, Any]:
        return await self.owner_post(
            "/fields", {"table_id": table_id, "name": "Extra", "type": "number"}
        )

    async def fresh_view(self, table_id: str) -> dict[str, Any]:
        return await self.owner_post(
            "/views", {"table_id": table_id, "name": "Fresh view", "type": "grid"}
        )

    async def fresh_record(self, fields: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.owner_post(
            "/records",
            {"table_id": self.scratch_table_id, "fields": fields or {"Name": unique("rec")}},
        )

    async def scratch_records_named(self, name: str) -> list[dict[str, Any]]:
        """Records of the scratch table whose ``Name`` is ``name``."""
        where = {"conditions": [{"field": "Name", "operator": "equals", "value": name}]}
        body = await self.owner_read(
            "/records", table_id=self.scratch_table_id, filter=json.dumps(where)
        )
        found: list[dict[str, Any]] = body["data"]
        return found


SHARED_FIELDS = [{"name": "Name", "type": "text"}, {"name": "Count", "type": "number"}]


@pytest.fixture(scope="module")
async def world(module_database: Settings) -> AsyncIterator[World]:
    async with running_api(module_database) as api:
        actors = {name: await api.actor() for name in CALLERS}
        owner = actors["owner"]
        workspace = await api.workspace(owner, name="Shared")
        for role in ("admin", "editor", "viewer"):
            await api.add_member(owner, workspace["id"], actors[role], role)
        base = await api.base(owner, workspace["id"], name="Shared base")
        table = await api.table(owner, base["id"], SHARED_FIELDS)
        view = await api.post(
            owner,
            "/views",
            {
                "table_id": table["id"],
                "name": "Shared view",
                "type": "grid",
                "configuration": {"sorts": [{"field": "Count", "direction": "desc"}]},
            },
        )
        records = [
            await api.post(
                owner, "/records", {"table_id": table["id"], "fields": {"Name": n, "Count": c}}
            )
            for n, c in (("one", 1), ("two", 2))
        ]
        scratch_base = await api.base(owner, workspace["id"], name="Scratch base")
        scratch_table = await api.table(owner, scratch_base["id"], SHARED_FIELDS)
        yield World(
            api=api,
            actors=actors,
            workspace_id=str(workspace["id"]),
            base=base,
            table=table,
            view=view,
            records=records,
            scratch_base_id=str(scratch_base["id"]),
            scratch_table_id=str(scratch_table["id"]),
        )


# --- one scenario per route ------------------------------------------------------------------

Verify = Callable[[bool], Awaitable[None]]
Scenario = Callable[[World, str], Awaitable[tuple[httpx2.Response, Verify]]]


@dataclass(frozen=True)
class RouteCase:
    permission: str
    ok: int
    run: Scenario

    @property
    def channel(self) -> str:
        """The event channel an allowed write of this route produces."""
        return self.permission.split(":")[0]

    @property
    def writes(self) -> bool:
        return self.permission.endswith(":write")


ROUTES: dict[str, RouteCase] = {}


def route(name: str, permission: str, ok: int) -> Callable[[Scenario], Scenario]:
    """Register a scenario: the request ``name`` needs ``permission`` and answers ``ok``."""

    def register(run: Scenario) -> Scenario:
        ROUTES[name] = RouteCase(permission, ok, run)
        return run

    return register


async def _nothing(allowed: bool) -> None:
    """No check beyond the status (for reads whose body a refused caller never sees)."""


# bases ------------------------------------------------------------------------------------


@route("GET /bases", "base:read", 200)
async def list_bases(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    response = await w.call(caller, "GET", "/bases", params={"workspace_id": w.workspace_id})

    async def verify(allowed: bool) -> None:
        if allowed:
            assert w.base["id"] in [b["id"] for b in response.json()["data"]]

    return response, verify


@route("POST /bases", "base:write", 201)
async def create_base(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    name = unique("New base")
    response = await w.call(
        caller, "POST", "/bases", {"workspace_id": w.workspace_id, "name": name}
    )

    async def verify(allowed: bool) -> None:
        listed = await w.owner_read("/bases", workspace_id=w.workspace_id, per_page=100)
        assert [b["name"] for b in listed["data"]].count(name) == (1 if allowed else 0)

    return response, verify


@route("GET /bases/{id}", "base:read", 200)
async def get_base(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    response = await w.call(caller, "GET", f"/bases/{w.base['id']}")

    async def verify(allowed: bool) -> None:
        if allowed:
            assert response.json()["id"] == w.base["id"]

    return response, verify


@route("PUT /bases/{id}", "base:write", 200)
async def put_base(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    base = await w.fresh_base()
    response = await w.call(caller, "PUT", f"/bases/{base['id']}", {"name": "Renamed"})

    async def verify(allowed: bool) -> None:
        after = await w.owner_read(f"/bases/{base['id']}")
        assert after["name"] == ("Renamed" if allowed else base["name"])
        if not allowed:
            assert after == base

    return response, verify


@route("DELETE /bases/{id}", "base:write", 204)
async def delete_base(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    base = await w.fresh_base()
    table = await w.api.table(w.owner, base["id"])
    response = await w.call(caller, "DELETE", f"/bases/{base['id']}")

    async def verify(allowed: bool) -> None:
        assert (await w.owner_get(f"/bases/{base['id']}")).status_code == (404 if allowed else 200)
        assert (await w.owner_get(f"/tables/{table['id']}")).status_code == (
            404 if allowed else 200
        )

    return response, verify


# tables -----------------------------------------------------------------------------------


@route("GET /tables", "table:read", 200)
async def list_tables(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    response = await w.call(caller, "GET", "/tables", params={"base_id": w.base["id"]})

    async def verify(allowed: bool) -> None:
        if allowed:
            assert [t["id"] for t in response.json()["data"]] == [w.table["id"]]

    return response, verify


@route("POST /tables", "table:write", 201)
async def create_table(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    name = unique("New table")
    response = await w.call(caller, "POST", "/tables", {"base_id": w.scratch_base_id, "name": name})

    async def verify(allowed: bool) -> None:
        listed = await w.owner_read("/tables", base_id=w.scratch_base_id, per_page=100)
        assert listed["pagination"]["total"] <= 100
        assert [t["name"] for t in listed["data"]].count(name) == (1 if allowed else 0)

    return response, verify


@route("GET /tables/{id}", "table:read", 200)
async def get_table(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    response = await w.call(caller, "GET", f"/tables/{w.table['id']}")

    async def verify(allowed: bool) -> None:
        if allowed:
            assert [f["name"] for f in response.json()["fields"]] == ["Name", "Count"]

    return response, verify


@route("PUT /tables/{id}", "table:write", 200)
async def put_table(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    table = await w.fresh_table()
    response = await w.call(
        caller, "PUT", f"/tables/{table['id']}", {"name": "Renamed", "description": "d"}
    )

    async def verify(allowed: bool) -> None:
        after = await w.owner_read(f"/tables/{table['id']}")
        assert (after["name"], after["description"]) == (
            ("Renamed", "d") if allowed else (table["name"], table["description"])
        )
        if not allowed:
            assert after == table

    return response, verify


@route("DELETE /tables/{id}", "table:write", 204)
async def delete_table(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    table = await w.fresh_table()
    response = await w.call(caller, "DELETE", f"/tables/{table['id']}")

    async def verify(allowed: bool) -> None:
        status = (await w.owner_get(f"/tables/{table['id']}")).status_code
        assert status == (404 if allowed else 200)

    return response, verify


# fields -----------------------------------------------------------------------------------


@route("GET /fields", "table:read", 200)
async def list_fields(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    response = await w.call(caller, "GET", "/fields", params={"table_id": w.table["id"]})

    async def verify(allowed: bool) -> None:
        if allowed:
            assert [f["id"] for f in response.json()["data"]] == [
                f["id"] for f in w.table["fields"]
            ]

    return response, verify


@route("POST /fields", "field:write", 201)
async def create_field(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    table = await w.fresh_table()
    response = await w.call(
        caller, "POST", "/fields", {"table_id": table["id"], "name": "Added", "type": "text"}
    )

    async def verify(allowed: bool) -> None:
        after = await w.owner_read(f"/tables/{table['id']}")
        assert [f["name"] for f in after["fields"]] == (["Name", "Added"] if allowed else ["Name"])

    return response, verify


@route("GET /fields/{id}", "table:read", 200)
async def get_field(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    wanted = w.table["fields"][1]
    response = await w.call(caller, "GET", f"/fields/{wanted['id']}")

    async def verify(allowed: bool) -> None:
        if allowed:
            assert response.json() == wanted

    return response, verify


@route("PUT /fields/{id}", "field:write", 200)
async def put_field(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    table = await w.fresh_table()
    extra = await w.fresh_field(table["id"])
    response = await w.call(
        caller, "PUT", f"/fields/{extra['id']}", {"name": "Renamed", "type": "text"}
    )

    async def verify(allowed: bool) -> None:
        after = await w.owner_read(f"/fields/{extra['id']}")
        assert (after["name"], after["type"]) == (
            ("Renamed", "text") if allowed else ("Extra", "number")
        )

    return response, verify


@route("DELETE /fields/{id}", "field:write", 204)
async def delete_field(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    table = await w.fresh_table()
    extra = await w.fresh_field(table["id"])
    response = await w.call(caller, "DELETE", f"/fields/{extra['id']}")

    async def verify(allowed: bool) -> None:
        status = (await w.owner_get(f"/fields/{extra['id']}")).status_code
        assert status == (404 if allowed else 200)

    return response, verify


# views ------------------------------------------------------------------------------------


@route("GET /views", "table:read", 200)
async def list_views(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    response = await w.call(caller, "GET", "/views", params={"table_id": w.table["id"]})

    async def verify(allowed: bool) -> None:
        if allowed:
            assert response.json()["data"] == [w.view]

    return response, verify


@route("POST /views", "view:write", 201)
async def create_view(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    table = await w.fresh_table()
    response = await w.call(
        caller, "POST", "/views", {"table_id": table["id"], "name": "New", "type": "gallery"}
    )

    async def verify(allowed: bool) -> None:
        listed = await w.owner_read("/views", table_id=table["id"])
        assert [v["name"] for v in listed["data"]] == (["New"] if allowed else [])

    return response, verify


@route("GET /views/{id}", "table:read", 200)
async def get_view(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    response = await w.call(caller, "GET", f"/views/{w.view['id']}")

    async def verify(allowed: bool) -> None:
        if allowed:
            assert response.json() == w.view

    return response, verify


@route("PUT /views/{id}", "view:write", 200)
async def put_view(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    table = await w.fresh_table()
    view = await w.fresh_view(table["id"])
    response = await w.call(
        caller,
        "PUT",
        f"/views/{view['id']}",
        {"name": "Renamed", "configuration": {"visible_fields": ["Name"]}},
    )

    async def verify(allowed: bool) -> None:
        after = await w.owner_read(f"/views/{view['id']}")
        if allowed:
            assert after["name"] == "Renamed"
            assert after["configuration"] == {"visible_fields": [table["primary_field_id"]]}
        else:
            assert after == view

    return response, verify


@route("DELETE /views/{id}", "view:write", 204)
async def delete_view(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    table = await w.fresh_table()
    view = await w.fresh_view(table["id"])
    response = await w.call(caller, "DELETE", f"/views/{view['id']}")

    async def verify(allowed: bool) -> None:
        status = (await w.owner_get(f"/views/{view['id']}")).status_code
        assert status == (404 if allowed else 200)

    return response, verify


# records ----------------------------------------------------------------------------------


@route("GET /records", "record:read", 200)
async def list_records(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    response = await w.call(
        caller, "GET", "/records", params={"table_id": w.table["id"], "view_id": w.view["id"]}
    )

    async def verify(allowed: bool) -> None:
        if allowed:
            assert [r["id"] for r in response.json()["data"]] == [
                r["id"] for r in reversed(w.records)
            ]

    return response, verify


@route("POST /records/query", "record:read", 200)
async def query_records(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    where = {"conditions": [{"field": "Count", "operator": "greater_than", "value": 1}]}
    response = await w.call(
        caller, "POST", "/records/query", {"table_id": w.table["id"], "filter": where}
    )

    async def verify(allowed: bool) -> None:
        if allowed:
            assert [r["id"] for r in response.json()["data"]] == [w.records[1]["id"]]

    return response, verify


@route("GET /records/{id}", "record:read", 200)
async def get_record(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    response = await w.call(caller, "GET", f"/records/{w.records[0]['id']}")

    async def verify(allowed: bool) -> None:
        if allowed:
            assert response.json() == w.records[0]

    return response, verify


@route("POST /records", "record:write", 201)
async def create_record(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    name = unique("created")
    response = await w.call(
        caller, "POST", "/records", {"table_id": w.scratch_table_id, "fields": {"Name": name}}
    )

    async def verify(allowed: bool) -> None:
        assert len(await w.scratch_records_named(name)) == (1 if allowed else 0)

    return response, verify


@route("PATCH /records/{id}", "record:write", 200)
async def patch_record(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    record = await w.fresh_record({"Name": "before", "Count": 1})
    response = await w.call(caller, "PATCH", f"/records/{record['id']}", {"fields": {"Count": 2}})

    async def verify(allowed: bool) -> None:
        after = await w.owner_read(f"/records/{record['id']}")
        if allowed:
            assert (after["fields"], after["version"]) == ({"Name": "before", "Count": 2}, 2)
        else:
            assert after == record

    return response, verify


@route("PUT /records/{id}", "record:write", 200)
async def put_record(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    record = await w.fresh_record({"Name": "before", "Count": 1})
    response = await w.call(caller, "PUT", f"/records/{record['id']}", {"fields": {"Name": "new"}})

    async def verify(allowed: bool) -> None:
        after = await w.owner_read(f"/records/{record['id']}")
        if allowed:
            assert (after["fields"], after["version"]) == ({"Name": "new"}, 2)
        else:
            assert after == record

    return response, verify


@route("DELETE /records/{id}", "record:write", 204)
async def delete_record(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    record = await w.fresh_record()
    response = await w.call(caller, "DELETE", f"/records/{record['id']}")

    async def verify(allowed: bool) -> None:
        after = await w.owner_get(f"/records/{record['id']}")
        assert after.status_code == (404 if allowed else 200)
        if not allowed:
            assert after.json() == record

    return response, verify


@route("POST /records/batch", "record:write", 201)
async def batch_create(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    name = unique("batch")
    response = await w.call(
        caller,
        "POST",
        "/records/batch",
        {"table_id": w.scratch_table_id, "records": [{"fields": {"Name": name}}] * 2},
    )

    async def verify(allowed: bool) -> None:
        assert len(await w.scratch_records_named(name)) == (2 if allowed else 0)

    return response, verify


@route("PATCH /records/batch", "record:write", 200)
async def batch_update(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    made = [await w.fresh_record({"Name": unique("b"), "Count": 1}) for _ in range(2)]
    response = await w.call(
        caller,
        "PATCH",
        "/records/batch",
        {
            "table_id": w.scratch_table_id,
            "records": [{"id": r["id"], "fields": {"Count": 5}} for r in made],
        },
    )

    async def verify(allowed: bool) -> None:
        for record in made:
            after = await w.owner_read(f"/records/{record['id']}")
            if allowed:
                assert (after["fields"]["Count"], after["version"]) == (5, 2)
            else:
                assert after == record

    return response, verify


@route("POST /records/batch-delete", "record:write", 200)
async def batch_delete(w: World, caller: str) -> tuple[httpx2.Response, Verify]:
    made = [await w.fresh_record() for _ in range(2)]
    response = await w.call(
        caller,
        "POST",
        "/records/batch-delete",
        {"table_id": w.scratch_table_id, "ids": [r["id"] for r in made]},
    )

    async def verify(allowed: bool) -> None:
        for record in made:
            status = (await w.owner_get(f"/records/{record['id']}")).status_code
            assert status == (404 if allowed else 200)

    return response, verify


# --- the matrix ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route_name", "caller"),
    [pytest.param(name, caller, id=f"{name}-{caller}") for name in ROUTES for caller in CALLERS],
)
async def test_data_route_answers_each_role_as_the_contract_says(
    world: World, route_name: str, caller: str
) -> None:
    """The route answers `caller` per the role matrix; only an allowed write changes anything."""
    case = ROUTES[route_name]
    response, verify = await case.run(world, caller)
    allowed = assert_outcome(response, caller, case.permission, case.ok)
    await verify(allowed)
    events = await world.events_since(world.mark)
    if allowed and case.writes:
        assert events
        assert {event["channel"] for event in events} == {case.channel}
        assert {event["user_id"] for event in events} == {world.actors[caller].id}
    else:
        assert events == []


def test_every_data_route_is_in_the_matrix() -> None:
    """Contract §5 and §6 routes: five per base/table/field/view service, ten for records."""
    for service in ("bases", "tables", "fields", "views"):
        assert {name for name in ROUTES if name.split()[1].split("/")[1] == service} == {
            f"GET /{service}",
            f"POST /{service}",
            f"GET /{service}/{{id}}",
            f"PUT /{service}/{{id}}",
            f"DELETE /{service}/{{id}}",
        }
    assert {name for name in ROUTES if name.split()[1].startswith("/records")} == {
        "GET /records",
        "POST /records/query",
        "GET /records/{id}",
        "POST /records",
        "PATCH /records/{id}",
        "PUT /records/{id}",
        "DELETE /records/{id}",
        "POST /records/batch",
        "PATCH /records/batch",
        "POST /records/batch-delete",
    }


# --- ids that name nothing: 404 for members and non-members alike --------------------------


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # "{id}" stands for the id under test
    prefix: str  # the type prefix of that id
    body: dict[str, Any] | None = None
    params: dict[str, str] | None = None


UNRESOLVED = {
    "GET /bases": Request("GET", "/bases", "wsp", params={"workspace_id": "{id}"}),
    "POST /bases": Request("POST", "/bases", "wsp", {"workspace_id": "{id}", "name": "B"}),
    "GET /bases/{id}": Request("GET", "/bases/{id}", "bas"),
    "PUT /bases/{id}": Request("PUT", "/bases/{id}", "bas", {"name": "B"}),
    "DELETE /bases/{id}": Request("DELETE", "/bases/{id}", "bas"),
    "GET /tables": Request("GET", "/tables", "bas", params={"base_id": "{id}"}),
    "POST /tables": Request("POST", "/tables", "bas", {"base_id": "{id}", "name": "T"}),
    "GET /tables/{id}": Request("GET", "/tables/{id}", "tbl"),
    "PUT /tables/{id}": Request("PUT", "/tables/{id}", "tbl", {"name": "T"}),
    "DELETE /tables/{id}": Request("DELETE", "/tables/{id}", "tbl"),
    "GET /fields": Request("GET", "/fields", "tbl", params={"table_id": "{id}"}),
    "POST /fields": Request(
        "POST", "/fields", "tbl", {"table_id": "{id}", "name": "F", "type": "text"}
    ),
    "GET /fields/{id}": Request("GET", "/fields/{id}", "fld"),
    "PUT /fields/{id}": Request("PUT", "/fields/{id}", "fld", {"name": "F"}),
    "DELETE /fields/{id}": Request("DELETE", "/fields/{id}", "fld"),
    "GET /views": Request("GET", "/views", "tbl", params={"table_id": "{id}"}),
    "POST /views": Request("POST", "/views", "tbl", {"table_id": "{id}", "name": "V"}),
    "GET /views/{id}": Request("GET", "/views/{id}", "viw"),
    "PUT /views/{id}": Request("PUT", "/views/{id}", "viw", {"name": "V"}),
    "DELETE /views/{id}": Request("DELETE", "/views/{id}", "viw"),
    "GET /records": Request("GET", "/records", "tbl", params={"table_id": "{id}"}),
    "POST /records/query": Request("POST", "/records/query", "tbl", {"table_id": "{id}"}),
    "GET /records/{id}": Request("GET", "/records/{id}", "rec"),
    "POST /records": Request("POST", "/records", "tbl", {"table_id": "{id}", "fields": {}}),
    "PATCH /records/{id}": Request("PATCH", "/records/{id}", "rec", {"fields": {}}),
    "PUT /records/{id}": Request("PUT", "/records/{id}", "rec", {"fields": {}}),
    "DELETE /records/{id}": Request("DELETE", "/records/{id}", "rec"),
    "POST /records/batch": Request(
        "POST", "/records/batch", "tbl", {"table_id": "{id}", "records": [{"fields": {}}]}
    ),
    "PATCH /records/batch": Request(
        "PATCH",
        "/records/batch",
        "tbl",
        {"table_id": "{id}", "records": [{"id": "rec" + "Z" * 16, "fields": {}}]},
    ),
    "POST /records/batch-delete": Request(
        "POST", "/records/batch-delete", "tbl", {"table_id": "{id}", "ids": ["rec" + "Z" * 16]}
    ),
}
TARGETS = ("well-formed-but-missing", "malformed", "id-of-another-type")


def _fill(value: Any, identifier: str) -> Any:
    if isinstance(value, str):
        return value.replace("{id}", identifier)
    if isinstance(value, list):
        return [_fill(item, identifier) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, identifier) for key, item in value.items()}
    return value


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("caller", ["owner", "viewer", NON_MEMBER])
@pytest.mark.parametrize("route_name", list(UNRESOLVED))
async def test_id_that_names_nothing_is_404(
    world: World, route_name: str, caller: str, target: str
) -> None:
    """An id that resolves to nothing the caller may see is 404 NOT_FOUND, never 403, for all."""
    request = UNRESOLVED[route_name]
    identifier = {
        "well-formed-but-missing": request.prefix + "Z" * 16,
        "malformed": request.prefix + "-not-an-id",
        "id-of-another-type": world.actors[caller].id,
    }[target]
    before = await world.position()
    response = await world.client.request(
        request.method,
        _fill(request.path, identifier),
        json=_fill(request.body, identifier),
        params=_fill(request.params, identifier),
        headers=world.actors[caller].headers,
    )
    assert response.status_code == 404, response.text
    assert response.json()["error"]["type"] == "NOT_FOUND"
    assert await world.events_since(before) == []


def test_unresolved_id_cases_cover_every_route() -> None:
    assert set(UNRESOLVED) == set(ROUTES)


# --- the event log ---------------------------------------------------------------------------


@pytest.mark.parametrize("caller", CALLERS)
async def test_event_log_holds_only_the_callers_workspaces(world: World, caller: str) -> None:
    """GET /events answers every member the workspace's events; a non-member gets an empty list,
    and 404 for a filter that names the workspace or its table (as SSE answers)."""
    actor = world.actors[caller]
    queries: list[dict[str, Any]] = [
        {},
        {"workspace_id": world.workspace_id},
        {"table_id": world.table["id"]},
        {"channel": "record"},
    ]
    for params in queries:
        response = await world.client.get(
            "/events", params={"since": 0, "limit": 1000, **params}, headers=actor.headers
        )
        if caller == NON_MEMBER and ("workspace_id" in params or "table_id" in params):
            assert response.status_code == 404, response.text
            continue
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["reset"] is False
        events = body["data"]
        if caller == NON_MEMBER:
            assert events == []
            continue
        assert events
        assert {event["workspace_id"] for event in events} == {world.workspace_id}
        if "table_id" in params:
            created = {e["aggregate_id"] for e in events if e["type"] == "record.created"}
            assert {r["id"] for r in world.records} <= created
            assert {e["table_id"] for e in events} == {world.table["id"]}
        if "channel" in params:
            assert {e["channel"] for e in events} == {"record"}
