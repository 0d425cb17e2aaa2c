"""Expression indexes per field: they follow the field's life, and the queries use them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import event, select, text
from sqlalchemy.dialects import sqlite

from pyairtable_server import maintenance
from pyairtable_server.data.indexes import in_table, reconcile
from pyairtable_server.data.query import Compiler
from pyairtable_server.data.schema import require_table
from pyairtable_server.db import driver
from pyairtable_server.db.migrate import alembic_config, upgrade_to_head
from pyairtable_server.db.models import DataRecord
from pyairtable_server.schemas.views import FilterCondition, FilterGroup, SortSpec
from pyairtable_server.settings import Settings

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
    return set(await index_definitions(api))


def scoped_to(definition: str, table_id: str) -> bool:
    """Whether an index's SQL is partial on ``table_id = '<table_id>'`` (either database's
    spelling: PostgreSQL writes ``((table_id)::text = '…'::text)``)."""
    where = definition.partition(" WHERE ")[2].replace("(", "").replace(")", "")
    return where.replace("::text", "").strip() == f"table_id = '{table_id}'"


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


async def test_the_table_scope_is_a_plain_comparison(api: Api) -> None:
    """``in_table`` compiles to ``records.table_id = '<id>'`` alone: as a bare Boolean column
    SQLite got ``(records.table_id = '…') = 1``, which matches no index, so every list scanned
    the whole shared table and sorted it."""
    query = select(DataRecord.id).where(in_table("tbl0123456789abcdef"))
    sql = str(query.compile(dialect=api.app.state.services.db.engine.dialect))
    assert sql.endswith("WHERE records.table_id = 'tbl0123456789abcdef'"), sql


async def test_sqlite_serves_each_list_page_from_an_index_without_sorting(
    tmp_path: Path,
) -> None:
    """The statements ``GET /records`` really sends (first page, next page, filter + sort and
    its next page) are each planned as an index search: the (table_id, autonumber) index for
    creation order, the sorted field's partial index for a sort; never a scan of the shared
    records table nor a sort of it. (SQLite only: PostgreSQL's plan also weighs statistics.)"""
    async with running_api(build_settings(None, tmp_path)) as api:
        owner, table = await api.new_table(FIELDS)
        rows = [{"fields": {"Score": 60 + i, "Status": "Doing"}} for i in range(5)]
        await send(api, owner, "POST", "/records/batch", {"table_id": table["id"], "records": rows})
        plain = {"table_id": table["id"], "page_size": 2}
        sorted_ = plain | {
            "filter": json.dumps(
                {
                    "conditions": [
                        {"field": "Status", "operator": "equals", "value": "Doing"},
                        {"field": "Score", "operator": "greater_than", "value": 50},
                    ]
                }
            ),
            "sort": json.dumps([{"field": "Score", "direction": "desc"}]),
        }
        score = next(f for f in table["fields"] if f["name"] == "Score")
        for params, index in (
            (plain, "sqlite_autoindex_records_"),
            (sorted_, f"ix_rec_{score['id']}"),
        ):
            first, offset = await _list_plan(api, owner, params)
            assert offset is not None
            following, _ = await _list_plan(api, owner, params | {"offset": offset})
            for plan in (first, following):
                assert len(plan) == 1, plan
                assert plan[0].startswith("SEARCH records USING INDEX " + index), plan


async def _list_plan(
    api: Api, owner: Actor, params: dict[str, Any]
) -> tuple[list[str], str | None]:
    """The EXPLAIN QUERY PLAN lines of the page statement ``GET /records`` sends for ``params``,
    and the answer's ``next_offset``."""
    db = api.app.state.services.db
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM records" in statement and "count(" not in statement:
            sent.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        response = await api.client.get("/records", params=params, headers=owner.headers)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    assert response.status_code == 200, response.text
    assert len(sent) == 1, sent
    async with db.reader() as session:
        connection = await session.connection()
        rows = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sent[0][0]}", sent[0][1])
        plan = [str(row[-1]) for row in rows]
    return plan, response.json()["pagination"]["next_offset"]


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


async def index_definitions(api: Api) -> dict[str, str]:
    """The SQL of each per-field index, by name."""
    db = api.app.state.services.db
    query = (
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name LIKE 'ix_rec_fld%'"
        if db.is_sqlite
        else "SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE 'ix_rec_fld%'"
    )
    async with db.reader() as session:
        rows = (await session.execute(text(query))).all()
    return {str(name): str(sql) for name, sql in rows}


async def test_each_field_index_covers_only_its_own_tables_records(api: Api) -> None:
    """Indexes are partial per table, so another tenant's writes do not maintain them."""
    _, mine = await api.new_table(FIELDS)
    _, theirs = await api.new_table(FIELDS)
    definitions = await index_definitions(api)
    for table in (mine, theirs):
        for name in ids(table, "Score", "Status", "Due", "At"):
            assert scoped_to(definitions[name], table["id"]), definitions[name]


async def test_postgresql_builds_and_drops_field_indexes_concurrently_after_the_commit(
    api: Api,
) -> None:
    """CONCURRENTLY cannot run in a transaction: that the index exists, valid, proves it ran
    after the commit, on its own. SQLite builds in the write's transaction."""
    owner, table = await api.new_table(FIELDS)
    db = api.app.state.services.db
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        added = await send(
            api, owner, "POST", "/fields", {"table_id": table["id"], "name": "N", "type": "number"}
        )
        await send(api, owner, "PUT", f"/fields/{added['id']}", {"type": "date"})
        await send(api, owner, "DELETE", f"/fields/{added['id']}")
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    ddl = [s for s in sent if s.startswith(("CREATE INDEX", "DROP INDEX")) and added["id"] in s]
    concurrently = not db.is_sqlite
    assert [("CONCURRENTLY" in s) for s in ddl] == [concurrently] * 4, ddl
    assert [s.split()[0] for s in ddl] == ["CREATE", "DROP", "CREATE", "DROP"]
    assert f"ix_rec_{added['id']}" not in await indexes(api)
    if concurrently:
        async with db.reader() as session:
            invalid = await session.scalar(
                text(
                    "SELECT count(*) FROM pg_index JOIN pg_class ON pg_class.oid = indexrelid "
                    "WHERE relname LIKE 'ix_rec_fld%' AND NOT indisvalid"
                )
            )
        assert invalid == 0


async def test_a_table_holds_at_most_max_fields_per_table_fields(
    make_settings: Callable[..., Settings],
) -> None:
    async with running_api(make_settings(max_fields_per_table=3)) as api:
        owner = await api.actor()
        workspace = await api.workspace(owner)
        base = await api.base(owner, workspace["id"])
        four = [{"name": f"F{i}", "type": "number"} for i in range(4)]
        response = await api.client.post(
            "/tables",
            json={"base_id": base["id"], "name": "Wide", "fields": four},
            headers=owner.headers,
        )
        assert response.status_code == 422, response.text
        assert "fields" in response.json()["error"]["details"]["fields"]
        table = await api.table(owner, base["id"], four[:3])
        response = await api.client.post(
            "/fields",
            json={"table_id": table["id"], "name": "F3", "type": "number"},
            headers=owner.headers,
        )
        assert response.status_code == 422, response.text
        assert "table_id" in response.json()["error"]["details"]["fields"]
        definitions = (await index_definitions(api)).values()
        assert len([d for d in definitions if scoped_to(d, table["id"])]) == 3


async def test_migration_0007_makes_existing_field_indexes_partial(
    make_settings: Callable[..., Settings],
) -> None:
    """A database from before 0007 keeps its indexes, now scoped to their tables."""
    settings = make_settings()
    async with running_api(settings) as api:
        _, table = await api.new_table(FIELDS)
        db = api.app.state.services.db
        score = ids(table, "Score").pop()
        async with db.write_engine.begin() as conn:
            await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), "0006"))
        assert not scoped_to((await index_definitions(api))[score], table["id"])
        await upgrade_to_head(db)
        definitions = await index_definitions(api)
        assert set(definitions) >= ids(table, "Score", "Status", "Due", "At")
        assert scoped_to(definitions[score], table["id"])


async def test_housekeeping_builds_missing_field_indexes_and_drops_strays(api: Api) -> None:
    """PostgreSQL changes indexes after the schema change commits, so a crash in between or two
    racing changes can leave them out of step; housekeeping puts them right. (SQLite changes
    them in the schema change's transaction: nothing to do.)"""
    _, table = await api.new_table(FIELDS)
    db = api.app.state.services.db
    settings = api.app.state.services.settings
    score, status = ids(table, "Score").pop(), ids(table, "Status").pop()
    stray = "ix_rec_fld" + "Z" * 16
    if db.is_sqlite:
        before = await index_definitions(api)
        await maintenance.run_once(db, settings)
        assert await index_definitions(api) == before
        return
    async with db.engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await auto.execute(text(f'DROP INDEX "{score}"'))  # a crash before it was built
        await auto.execute(text(f'DROP INDEX "{status}"'))  # rebuilt as if it were a number's
        await auto.execute(
            text(
                f'CREATE INDEX "{status}" ON records (table_id, (CASE WHEN jsonb_typeof(fields -> '
                f"'x') = 'number' THEN 1 END)) WHERE table_id = '{table['id']}'"
            )
        )
        await auto.execute(text(f'CREATE INDEX "{stray}" ON records (autonumber)'))
    await maintenance.run_once(db, settings)
    definitions = await index_definitions(api)
    assert stray not in definitions
    assert scoped_to(definitions[score], table["id"]) and "jsonb_typeof" in definitions[score]
    assert scoped_to(definitions[status], table["id"]) and "jsonb_typeof" not in definitions[status]
    assert await indexes_reconciled(api) == (0, 0)


async def indexes_reconciled(api: Api) -> tuple[int, int]:
    db = api.app.state.services.db
    return await reconcile(db.engine, dialect="sqlite" if db.is_sqlite else "postgresql")


async def test_a_batch_of_records_is_written_by_one_statement(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batch create, update and delete each send one statement, not one per record: on
    PostgreSQL each statement opens every index of the shared records table, other tenants'
    partial ones included. SQLite's create is one prepared statement the driver steps once per
    row (``executemany``, run on the DB-API driver, which ``driver.on_statement`` sees once):
    SQLite weighs every partial index per row whatever the statement's form, and compiling a
    100-row statement costs more than stepping one."""
    owner, table = await api.new_table(FIELDS)
    db = api.app.state.services.db
    sent: list[tuple[str, bool]] = []

    def record(
        _conn: Any, _cursor: Any, statement: str, _params: Any, _ctx: Any, many: bool
    ) -> None:
        verb = " ".join(statement.split()[:3]).upper()
        if verb.startswith(("INSERT INTO RECORDS", "UPDATE RECORDS", "DELETE FROM RECORDS")):
            sent.append((verb.split()[0], many))

    rows = [{"fields": {"Score": i}} for i in range(50)]
    made = await send(
        api,
        owner,
        "POST",
        "/records/batch",
        {"table_id": table["id"], "records": []} | {"records": rows},
    )
    ids = [r["id"] for r in made["data"]]

    def record_driver(statement: str) -> None:
        # Statements the driver runs itself bypass the engine's events; the driver steps a
        # prepared statement once per row only through ``run_many``.
        record(None, None, statement, None, None, True)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    monkeypatch.setattr(driver, "on_statement", record_driver)
    try:
        await send(api, owner, "POST", "/records/batch", {"table_id": table["id"], "records": rows})
        changes = [{"id": i, "fields": {"Score": 7}} for i in ids]
        await send(
            api, owner, "PATCH", "/records/batch", {"table_id": table["id"], "records": changes}
        )
        await send(
            api, owner, "POST", "/records/batch-delete", {"table_id": table["id"], "ids": ids}
        )
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    assert sent == [("INSERT", db.is_sqlite), ("UPDATE", False), ("DELETE", False)]
    left = await api.client.get("/records", params={"table_id": table["id"]}, headers=owner.headers)
    assert left.json()["pagination"]["total"] == 50
