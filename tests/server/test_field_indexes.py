"""Expression indexes per field: they follow the field's life, and the queries use them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.dialects import sqlite

from pyairtable_server.data.query import Compiler
from pyairtable_server.data.schema import require_table
from pyairtable_server.db.models import DataRecord
from pyairtable_server.schemas.views import FilterCondition, FilterGroup, SortSpec

from .backend import Actor, Api, build_settings, running_api

pytestmark = pytest.mark.anyio

FIELDS: list[dict[str, Any]] = [
    {"name": "Name", "type": "text"},
    {"name": "Score", "type": "number"},
    {"name": "Status", "type": "select", "options": {"choices": ["Todo", "Doing"]}},
    {"name": "Due", "type": "date"},
    {"name": "At", "type": "datetime"},
    {"name": "Done", "type": "checkbox"},
]


async def indexes(api: Api) -> set[str]:
    """Names of the per-field indexes in the database."""
    db = api.app.state.services.db
    query = (
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'ix_rec_fld%'"
        if db.is_sqlite
        else "SELECT indexname FROM pg_indexes WHERE indexname LIKE 'ix_rec_fld%'"
    )
    async with db.reader() as session:
        return set((await session.execute(text(query))).scalars())


def ids(table: dict[str, Any], *names: str) -> set[str]:
    return {f"ix_rec_{f['id']}" for f in table["fields"] if f["name"] in names}


async def send(api: Api, actor: Actor, method: str, path: str, body: Any = None) -> Any:
    response = await api.client.request(method, path, json=body, headers=actor.headers)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


async def test_numbers_selects_dates_and_datetimes_get_an_index_and_lose_it_with_the_field(
    api: Api,
) -> None:
    owner, table = await api.new_table(FIELDS)
    indexed = ids(table, "Score", "Status", "Due", "At")
    assert await indexes(api) >= indexed
    assert not await indexes(api) & ids(table, "Name", "Done")

    score = next(f for f in table["fields"] if f["name"] == "Score")
    await send(api, owner, "PUT", f"/fields/{score['id']}", {"type": "text"})
    assert f"ix_rec_{score['id']}" not in await indexes(api)
    await send(api, owner, "PUT", f"/fields/{score['id']}", {"type": "number"})
    assert f"ix_rec_{score['id']}" in await indexes(api)

    due = next(f for f in table["fields"] if f["name"] == "Due")
    await send(api, owner, "DELETE", f"/fields/{due['id']}")
    assert f"ix_rec_{due['id']}" not in await indexes(api)

    added = await send(
        api, owner, "POST", "/fields", {"table_id": table["id"], "name": "N2", "type": "number"}
    )
    assert f"ix_rec_{added['id']}" in await indexes(api)

    await send(api, owner, "DELETE", f"/tables/{table['id']}")
    assert not await indexes(api) & (indexed | {f"ix_rec_{added['id']}"})


async def test_deleting_a_base_or_a_workspace_drops_its_fields_indexes(api: Api) -> None:
    owner = await api.actor()
    workspace = await api.workspace(owner)
    base = await api.base(owner, workspace["id"])
    in_base = await api.table(owner, base["id"], FIELDS)
    other_base = await api.base(owner, workspace["id"])
    in_workspace = await api.table(owner, other_base["id"], FIELDS)
    await send(api, owner, "DELETE", f"/bases/{base['id']}")
    remaining = await indexes(api)
    assert not remaining & ids(in_base, "Score", "Status", "Due", "At")
    assert remaining >= ids(in_workspace, "Score", "Status", "Due", "At")
    await send(api, owner, "DELETE", f"/workspaces/{workspace['id']}")
    assert not await indexes(api) & ids(in_workspace, "Score", "Status", "Due", "At")


async def test_converting_text_to_numbers_keeps_every_value_and_the_index_answers(api: Api) -> None:
    """The old text stays visible to the index build of the same transaction; it must not fail."""
    owner, table = await api.new_table(
        [{"name": "Name", "type": "text"}, {"name": "V", "type": "text"}]
    )
    for value in ("3", "10", "2.5"):
        await api.post(owner, "/records", {"table_id": table["id"], "fields": {"V": value}})
    field = table["fields"][1]
    await send(api, owner, "PUT", f"/fields/{field['id']}", {"type": "number"})
    response = await api.client.get(
        "/records",
        params={
            "table_id": table["id"],
            "filter": json.dumps(
                {"conditions": [{"field": "V", "operator": "greater_than", "value": 2.5}]}
            ),
            "sort": json.dumps([{"field": "V", "direction": "desc"}]),
        },
        headers=owner.headers,
    )
    assert [r["fields"]["V"] for r in response.json()["data"]] == [10, 3]


async def test_sqlite_answers_a_filtered_sort_on_an_indexed_field_from_its_index(
    tmp_path: Path,
) -> None:
    """The plan of the query the compiler builds walks the field's index with no sorting step,
    so a page costs a page, not a table. (SQLite only: its plan follows from the schema, while
    PostgreSQL's also weighs statistics.)"""
    async with running_api(build_settings(None, tmp_path)) as api:
        await _sqlite_plan_walks_the_index(api)


async def _sqlite_plan_walks_the_index(api: Api) -> None:
    db = api.app.state.services.db
    owner, table = await api.new_table(FIELDS)
    async with db.reader() as session:
        schema = await require_table(session, owner.id, table["id"], "record:read")
        compiler = Compiler(schema, "sqlite")
        condition = compiler.where(
            FilterGroup(
                conditions=[
                    FilterCondition(field="Status", operator="equals", value="Doing"),
                    FilterCondition(field="Score", operator="greater_than", value=50),
                ]
            )
        )
        keys = compiler.order([SortSpec(field="Score", direction="desc")])
        query = (
            select(DataRecord.id)
            .where(DataRecord.table_id == table["id"], condition)
            .order_by(*(key.order_by("sqlite") for key in keys))
            .limit(101)
        )
        sql = str(query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
        plan = " | ".join(
            str(row[-1]) for row in await session.execute(text(f"EXPLAIN QUERY PLAN {sql}"))
        )
    score = next(f for f in table["fields"] if f["name"] == "Score")
    assert f"ix_rec_{score['id']}" in plan
    assert "TEMP B-TREE" not in plan


async def test_a_filtered_total_follows_every_change_of_the_table(api: Api) -> None:
    """Totals are remembered between requests, but never past a change of the table."""
    owner, table = await api.new_table(FIELDS)
    doing = json.dumps(
        {"conditions": [{"field": "Status", "operator": "equals", "value": "Doing"}]}
    )

    async def total() -> int:
        response = await api.client.get(
            "/records", params={"table_id": table["id"], "filter": doing}, headers=owner.headers
        )
        assert response.status_code == 200, response.text
        return int(response.json()["pagination"]["total"])

    assert await total() == 0
    made = await api.post(
        owner, "/records", {"table_id": table["id"], "fields": {"Status": "Doing"}}
    )
    assert await total() == 1
    assert await total() == 1  # answered from memory, still right
    await send(api, owner, "PATCH", f"/records/{made['id']}", {"fields": {"Status": "Todo"}})
    assert await total() == 0
    await send(api, owner, "PATCH", f"/records/{made['id']}", {"fields": {"Status": "Doing"}})
    assert await total() == 1
    await send(api, owner, "DELETE", f"/records/{made['id']}")
    assert await total() == 0
