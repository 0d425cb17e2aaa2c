"""What one tenant's schema and queries cost another tenant (issue 13, items 2 and 12).

For each database (SQLite, then PostgreSQL when reachable) the reference backend runs in process
(ASGI transport, no network) and two tenants each own a table:

- writes of tenant B: ``POST /records/batch`` of 100 records, ``PATCH /records/{id}``, and
  ``PATCH /records/batch`` of 100 records, median over ``--rounds`` rounds each, in three states
  of tenant A's table: without number fields (the baseline), with
  ``--fields`` number fields indexed as the server now makes them (partial: ``WHERE table_id =
  '<A's table>'``), and with the same indexes rebuilt over the whole shared table as the server
  made them before (each insert of B then maintains every one of them). Reported as ratios of the
  baseline, measured in the same run.
- ``filter at limit``: ``POST /records/query`` with 20 ``in`` conditions of 100 values on a
  multiselect (2,000 values, the most a query may hold), and the refused 200 x 100 one (422),
  median wall time each.

Run from the repository root::

    .venv/bin/python bench/server_isolation.py                 # 300 fields, 15 rounds
    .venv/bin/python bench/server_isolation.py --quick         # 50 fields, 5 rounds
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from tests.server.backend import (
    Actor,
    Api,
    PostgresDatabase,
    build_settings,
    postgres_reason_unavailable,
    running_api,
)

console = Console()
CHOICES = [f"c{i}" for i in range(100)]


async def _median(rounds: int, action: Callable[[], Awaitable[Any]]) -> float:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        await action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


async def _batch(api: Api, actor: Actor, table_id: str) -> None:
    response = await api.client.post(
        "/records/batch",
        json={"table_id": table_id, "records": [{"fields": {"Name": f"r{i}"}} for i in range(100)]},
        headers=actor.headers,
    )
    assert response.status_code == 201, response.text


async def _writes(api: Api, actor: Actor, table_id: str) -> dict[str, Callable[[], Awaitable[Any]]]:
    """Tenant B's writes, each a callable that runs one of them: a batch insert, a one-record
    update and a batch update of 100 records (alternating values, so each changes something)."""
    response = await api.client.post(
        "/records/batch",
        json={"table_id": table_id, "records": [{"fields": {"Name": f"u{i}"}} for i in range(100)]},
        headers=actor.headers,
    )
    ids = [r["id"] for r in response.json()["data"]]
    turn = iter(range(1_000_000))

    async def patch_one() -> None:
        answer = await api.client.patch(
            f"/records/{ids[0]}", json={"fields": {"Name": f"v{next(turn)}"}}, headers=actor.headers
        )
        assert answer.status_code == 200, answer.text

    async def patch_batch() -> None:
        value = f"w{next(turn)}"
        answer = await api.client.patch(
            "/records/batch",
            json={
                "table_id": table_id,
                "records": [{"id": i, "fields": {"Name": value}} for i in ids],
            },
            headers=actor.headers,
        )
        assert answer.status_code == 200, answer.text

    return {
        "insert 100": lambda: _batch(api, actor, table_id),
        "update 1": patch_one,
        "update 100": patch_batch,
    }


async def _globalise(api: Api, field_ids: list[str]) -> None:
    """Rebuild the fields' indexes as before: over the whole shared records table."""
    db = api.app.state.services.db
    for field_id in field_ids:
        if db.is_sqlite:
            expression = f"json_extract(fields, '$.\"{field_id}\"')"
        else:
            expression = (
                f"(CASE WHEN jsonb_typeof(fields -> '{field_id}') = 'number' "
                f"THEN CAST((fields ->> '{field_id}') AS DOUBLE PRECISION) END) NULLS FIRST"
            )
        async with db.engine.begin() as conn:
            await conn.execute(text(f'DROP INDEX IF EXISTS "ix_rec_{field_id}"'))
            await conn.execute(
                text(
                    f'CREATE INDEX "ix_rec_{field_id}" ON records '
                    f"(table_id, {expression}, autonumber)"
                )
            )


async def _measure(database_url: str | None, fields: int, rounds: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        settings = build_settings(database_url, Path(folder) / "data")
        async with running_api(settings) as api:
            owner_a, table_a = await api.new_table([{"name": "Name", "type": "text"}])
            owner_b, table_b = await api.new_table(
                [
                    {"name": "Name", "type": "text"},
                    {"name": "Tags", "type": "multiselect", "options": {"choices": CHOICES}},
                ]
            )
            for _ in range(3):  # warm up, and give A's table rows of its own
                await _batch(api, owner_b, table_b["id"])
                await _batch(api, owner_a, table_a["id"])
            writes = await _writes(api, owner_b, table_b["id"])

            async def measure(state: str) -> None:
                for name, write in writes.items():
                    figures[f"{name}: A {state}"] = await _median(rounds, write)

            await measure("without fields")
            made = []
            for index in range(fields):
                response = await api.client.post(
                    "/fields",
                    json={"table_id": table_a["id"], "name": f"N{index}", "type": "number"},
                    headers=owner_a.headers,
                )
                assert response.status_code == 201, response.text
                made.append(response.json()["id"])
            await measure(f"with {fields} partial indexes")
            await _globalise(api, made)
            await measure(f"with {fields} whole-table indexes (before)")

            def query(conditions: int) -> Callable[[], Awaitable[int]]:
                group = {
                    "conjunction": "or",
                    "conditions": [{"field": "Tags", "operator": "in", "value": CHOICES}]
                    * conditions,
                }

                async def run() -> int:
                    response = await api.client.post(
                        "/records/query",
                        json={"table_id": table_b["id"], "filter": group},
                        headers=owner_b.headers,
                    )
                    return response.status_code

                return run

            assert await query(20)() == 200
            assert await query(200)() == 422
            figures["filter at limit (20 x 100 in)"] = await _median(rounds, query(20))
            figures["filter 200 x 100 in (refused)"] = await _median(rounds, query(200))
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fields", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args(argv)
    fields, rounds = (50, 5) if options.quick else (options.fields, options.rounds)
    targets: list[tuple[str, str | None]] = [("sqlite", None)]
    reason = postgres_reason_unavailable()
    database = None
    if reason is None:
        database = PostgresDatabase()
        database.create()
        targets.append(("postgresql", database.url))
    else:
        console.print(f"[yellow]PostgreSQL skipped:[/yellow] {reason}")
    table = Table("database", "measure", "median ms", "÷ baseline")
    try:
        for name, url in targets:
            figures = asyncio.run(_measure(url, fields, rounds))
            for label, seconds in figures.items():
                write, _, state = label.partition(": A ")
                baseline = figures.get(f"{write}: A without fields")
                ratio = f"{seconds / baseline:.2f}" if state and baseline else ""
                table.add_row(name, label, f"{seconds * 1000:.1f}", ratio)
    finally:
        if database is not None:
            database.drop()
    console.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
