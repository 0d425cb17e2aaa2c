"""Where one record request spends its CPU: create, update and list profiled in process.

The reference backend runs in this process (its lifespan started, ASGI called directly, no
socket), on a fresh SQLite database (or ``--database-url``), with a small table. After a warm-up,
``--requests`` ``POST /records``, then as many ``PATCH /records/{id}``, then as many
``GET /records`` (the first 100 records) are sent, ``--concurrency`` at a time. For each scenario
it prints the CPU time of this process per request (``time.process_time``, which counts SQLite's
driver thread too); the SQL statements and the event loop thread's Python calls per request,
which do not move with the machine's load (the figures to compare between runs on a busy
machine); and the call tree of ``pyinstrument`` (a sampling profiler), unless ``--no-tree``.

HTTP parsing by uvicorn is not included: this is the application's own cost per request.

Run from the repository root::

    .venv/bin/python bench/profile_writes.py                 # 300 requests per scenario
    .venv/bin/python bench/profile_writes.py --requests 1000 --html /tmp/profile
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx2
from asgi_lifespan import LifespanManager
from pyinstrument import Profiler
from sqlalchemy import Engine, event

from pyairtable_server.app import create_app
from pyairtable_server.db import driver
from pyairtable_server.settings import Settings

API = "/api/v1"
WARMUP_REQUESTS = 50
PASSWORD = "Quartz-Lantern-7319"
FIELDS = [
    {"name": "Name", "type": "text"},
    {"name": "Status", "type": "select", "options": {"choices": ["Todo", "Doing", "Done"]}},
    {"name": "Score", "type": "number", "options": {"precision": 1}},
    {"name": "Done", "type": "checkbox"},
]
NEW_RECORD = {"Name": "New task", "Status": "Todo", "Score": 42.5, "Done": False}
UNREACHABLE = "10000000/minute"
PAGE_SIZE = 100


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per scenario")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 50 requests per scenario, no call trees"
    )
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument(
        "--html", type=Path, default=None, help="also write <prefix>-<scenario>.html"
    )
    parser.add_argument("--no-tree", action="store_true", help="print only the CPU per request")
    parser.add_argument(
        "--concurrency", type=int, default=1, help="requests in flight at once (default: 1)"
    )
    parser.add_argument(
        "--scenarios",
        nargs="+",
        choices=("create", "update", "list", "batch"),
        default=["create", "update", "list"],
        help="in this order; list reads the first 100 of the records the creates made; batch "
        "creates 100 records per request",
    )
    args = parser.parse_args()
    if args.quick:
        args.requests, args.no_tree = 50, True
    asyncio.run(_run(args))
    return 0


async def _run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="pyairtable-profile-") as data_dir:
        app = create_app(in_process_settings(Path(data_dir), args.database_url))
        async with LifespanManager(app) as manager:
            transport = httpx2.ASGITransport(app=manager.app)
            async with httpx2.AsyncClient(
                transport=transport, base_url=f"http://test{API}"
            ) as client:
                table_id = await _prepare(client)
                ids: list[str] = []

                async def create() -> None:
                    body = {"table_id": table_id, "fields": NEW_RECORD}
                    response = await client.post("/records", json=body)
                    assert response.status_code == 201, response.text
                    ids.append(response.json()["id"])

                counter = iter(range(10**9))

                async def patch() -> None:
                    n = next(counter)
                    record_id = ids[n % len(ids)]
                    body = {"fields": {"Score": n % 1000 + 0.5}}
                    response = await client.patch(f"/records/{record_id}", json=body)
                    assert response.status_code == 200, response.text

                async def first_page() -> None:
                    query: dict[str, str | int] = {"table_id": table_id, "page_size": PAGE_SIZE}
                    response = await client.get("/records", params=query)
                    assert response.status_code == 200, response.text
                    assert len(response.json()["data"]) == PAGE_SIZE

                batch_body = {
                    "table_id": table_id,
                    "records": [{"fields": NEW_RECORD} for _ in range(PAGE_SIZE)],
                }

                async def batch() -> None:
                    response = await client.post("/records/batch", json=batch_body)
                    assert response.status_code == 201, response.text

                engine = app.state.services.db.engine.sync_engine
                scenarios = {"create": create, "update": patch, "list": first_page, "batch": batch}
                if "create" not in args.scenarios:
                    # update and list need records to work on.
                    for _ in range(PAGE_SIZE):
                        await create()
                for name in args.scenarios:
                    await _profile(name, scenarios[name], args, engine)


def in_process_settings(data_dir: Path, database_url: str | None) -> Settings:
    """Settings for a backend profiled in process: no rate limit, cheap Argon2 (logins are not
    measured), a fresh secret key."""
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        secret_key=secrets.token_urlsafe(48),
        rate_limit_per_ip=UNREACHABLE,
        rate_limit_per_token=UNREACHABLE,
        argon2_time_cost=1,
        argon2_memory_kib=8,
        argon2_parallelism=1,
    )


async def sign_in(client: httpx2.AsyncClient) -> dict[str, Any]:
    """Register a new user, sign in and send its bearer token from now on; the login answer."""
    email = f"user-{secrets.token_hex(4)}@example.com"
    user = {"email": email, "password": PASSWORD, "first_name": "P", "last_name": "R"}
    assert (await client.post("/auth/register", json=user)).status_code == 201
    response = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    login: dict[str, Any] = response.json()
    client.headers["Authorization"] = f"Bearer {login['access_token']}"
    return login


async def _prepare(client: httpx2.AsyncClient) -> str:
    await sign_in(client)
    workspace = (await client.post("/workspaces", json={"name": "P"})).json()
    base = (await client.post("/bases", json={"workspace_id": workspace["id"], "name": "B"})).json()
    table = (
        await client.post("/tables", json={"base_id": base["id"], "name": "T", "fields": FIELDS})
    ).json()
    return str(table["id"])


async def _profile(
    name: str, call: Callable[[], Awaitable[None]], args: argparse.Namespace, engine: Engine
) -> None:
    await _many(call, WARMUP_REQUESTS, args.concurrency)
    cpu, wall = time.process_time(), time.perf_counter()
    await _many(call, args.requests, args.concurrency)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(
        f"{name}: {cpu / args.requests * 1000:.2f} ms CPU and {wall / args.requests * 1000:.2f} ms"
        f" wall per request (unprofiled, {args.requests} requests, {args.concurrency} at a time)"
    )
    statements = 0

    def count(*_: object) -> None:
        nonlocal statements
        statements += 1

    # Counts that do not depend on what else the machine is doing: SQL statements (those run by
    # SQLAlchemy and those run on the driver by ``db.driver``), and Python function calls of the
    # event loop's thread (background tasks included) per request.
    event.listen(engine, "before_cursor_execute", count)
    driver.on_statement = count
    calls = cProfile.Profile()
    calls.enable()
    await _many(call, args.requests, args.concurrency)
    calls.disable()
    driver.on_statement = None
    event.remove(engine, "before_cursor_execute", count)
    total_calls = sum(entry[1] for entry in calls.getstats())
    print(
        f"{name}: {statements / args.requests:.1f} SQL statements and "
        f"{total_calls / args.requests:,.0f} Python calls (event-loop thread) per request"
    )
    if args.no_tree:
        return
    profiler = Profiler(interval=0.0005, async_mode="enabled")
    with profiler:
        await _many(call, args.requests, args.concurrency)
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    if args.html is not None:
        html = profiler.output_html()
        await asyncio.to_thread(Path(f"{args.html}-{name}.html").write_text, html)


async def _many(call: Callable[[], Awaitable[None]], requests: int, concurrency: int) -> None:
    """Make ``requests`` calls, ``concurrency`` at a time."""

    async def worker(count: int) -> None:
        for _ in range(count):
            await call()

    share, extra = divmod(requests, concurrency)
    await asyncio.gather(*(worker(share + (i < extra)) for i in range(concurrency)))


if __name__ == "__main__":
    sys.exit(main())
