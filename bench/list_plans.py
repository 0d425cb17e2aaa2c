"""CPU per record list on a large table, and the database's plan of each list statement.

The reference backend runs in this process (lifespan started, ASGI called directly), on a fresh
SQLite database (or ``--database-url``), with the ``Tasks`` table of ``server_records.py`` holding
``--records`` records (bulk-inserted the same way). Four lists are measured, each
``--requests`` times after a warm-up: the first page of 100 in creation order, its next page,
the first page of ``Status = Doing AND Score > 50`` sorted by Score descending, and its next
page. For each it prints the CPU time of this process per request (``time.process_time``, which
counts SQLite's driver thread too; the filtered total is cached after the first request, as in
the server) and the ``EXPLAIN QUERY PLAN`` of the page statement the request really sent (SQLite
only; PostgreSQL's plan depends on its statistics and is printed by ``EXPLAIN``).

A list that costs a page must read an index in order: ``SEARCH records USING INDEX`` with no
``SCAN records`` and no ``USE TEMP B-TREE FOR ORDER BY``.

Run from the repository root::

    .venv/bin/python bench/list_plans.py                       # 100,000 records
    .venv/bin/python bench/list_plans.py --records 20000 --requests 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx2
from asgi_lifespan import LifespanManager
from sqlalchemy import Engine, event

from bench import server_records
from bench.profile_writes import in_process_settings, sign_in
from pyairtable_server.app import create_app
from pyairtable_server.settings import Settings

API = "/api/v1"
WARMUP_REQUESTS = 3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=server_records.DEFAULT_RECORDS)
    parser.add_argument("--requests", type=int, default=30, help="requests per list")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    args = parser.parse_args()
    asyncio.run(_run(args.records, args.requests, args.database_url))
    return 0


async def _run(records: int, requests: int, database_url: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="pyairtable-lists-") as data_dir:
        settings = in_process_settings(Path(data_dir), database_url)
        app = create_app(settings)
        async with LifespanManager(app) as manager:
            transport = httpx2.ASGITransport(app=manager.app)
            async with httpx2.AsyncClient(
                transport=transport, base_url=f"http://test{API}", timeout=120.0
            ) as client:
                table_id = await _prepare(client, settings, records)
                db = app.state.services.db
                engine = db.engine.sync_engine
                for name, params in await _lists(client, table_id):
                    cpu = await _cpu_per_request(client, params, requests)
                    print(f"{name:21s} {cpu * 1000:7.2f} ms CPU per list")
                    statement, parameters = await _sent(client, engine, params)
                    if engine.dialect.name != "sqlite":
                        continue
                    async with db.reader() as session:
                        conn = await session.connection()
                        plan = await conn.exec_driver_sql(
                            f"EXPLAIN QUERY PLAN {statement}", parameters
                        )
                        for row in plan:
                            print(f"{'':21s} plan: {row[-1]}")


async def _prepare(client: httpx2.AsyncClient, settings: Settings, records: int) -> str:
    """Sign up, make the table, bulk-insert ``records`` records; the table's id."""
    login = await sign_in(client)
    workspace = (await client.post("/workspaces", json={"name": "L"})).json()
    base = (await client.post("/bases", json={"workspace_id": workspace["id"], "name": "B"})).json()
    body = {"base_id": base["id"], "name": "Tasks", "fields": server_records.FIELDS}
    table = (await client.post("/tables", json=body)).json()
    fields = {f["name"]: f for f in table["fields"]}
    rng = random.Random(server_records.RANDOM_SEED)
    rows = [server_records._row(rng, number) for number in range(1, records + 1)]
    await server_records._bulk_insert(settings, table["id"], login["user"]["id"], fields, rows, 1)
    return str(table["id"])


async def _lists(client: httpx2.AsyncClient, table_id: str) -> list[tuple[str, dict[str, Any]]]:
    plain: dict[str, Any] = {"table_id": table_id, "page_size": server_records.PAGE_SIZE}
    filtered = plain | {
        "filter": json.dumps(server_records.FILTER),
        "sort": json.dumps(server_records.SORT),
    }
    lists = []
    for name, params in (("plain", plain), ("filter+sort", filtered)):
        page = await _get(client, params)
        lists.append((name, params))
        lists.append((f"{name} next page", params | {"offset": page["pagination"]["next_offset"]}))
    return lists


async def _get(client: httpx2.AsyncClient, params: dict[str, Any]) -> Any:
    response = await client.get("/records", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def _cpu_per_request(
    client: httpx2.AsyncClient, params: dict[str, Any], requests: int
) -> float:
    for _ in range(WARMUP_REQUESTS):
        await _get(client, params)
    started = time.process_time()
    for _ in range(requests):
        await _get(client, params)
    return (time.process_time() - started) / requests


async def _sent(
    client: httpx2.AsyncClient, engine: Engine, params: dict[str, Any]
) -> tuple[str, Any]:
    """The page statement (and its parameters) that one list request sends."""
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM records" in statement and "count(" not in statement:
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        await _get(client, params)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return sent[0]


if __name__ == "__main__":
    raise SystemExit(main())
