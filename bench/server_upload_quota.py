"""What storage quotas cost an upload: CPU time per upload with quotas against without, one run.

Usage is summed from the file rows on every upload (twice: once to stream against, once under
the quota's lock before the commit), so its cost grows with the files an account and a
workspace already hold. This uploads ``--uploads`` small files into a table, as a user who
already has ``--existing`` files there, through two in-process apps on the same kind of
database: one with quotas (limits far above what is used), one with both quotas off (0). It
prints the CPU time of this process per upload of each and their ratio, and the wall time, on
SQLite and on PostgreSQL (skipped with the reason when the local server does not answer). On
SQLite the CPU time includes the database's work (it runs in this process); on PostgreSQL the
server's work shows only in the wall time, which on a shared machine is noisy.

Run from the repository root::

    .venv/bin/python bench/server_upload_quota.py            # 10,000 existing files, 200 uploads
    .venv/bin/python bench/server_upload_quota.py --quick    # 1,000 existing, 50 uploads
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Run as a script, this file's directory heads sys.path; the harness is imported as bench._*.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx2
from asgi_lifespan import LifespanManager
from rich.console import Console
from rich.table import Table

from bench._targets import postgres_database, postgres_unavailable, run_script
from pyairtable_server.app import create_app
from pyairtable_server.clock import utcnow
from pyairtable_server.db.models import StoredFile
from pyairtable_server.ids import new_id
from pyairtable_server.settings import Settings

EXISTING = 10_000
UPLOADS = 200
QUICK_EXISTING = 1_000
QUICK_UPLOADS = 50
CONTENT = b"x" * 1024
BASE_URL = "http://bench/api/v1"
PASSWORD = "correct horse battery"
# Cheap Argon2id and limits that never answer 429: only uploads are measured.
FAST: dict[str, Any] = {
    "secret_key": "bench-secret-" + "x" * 48,
    "argon2_time_cost": 1,
    "argon2_memory_kib": 1024,
    "argon2_parallelism": 1,
    "rate_limit_per_ip": "1000000/minute",
    "rate_limit_per_token": "1000000/minute",
    "registrations_per_ip": "1000000/minute",
}

console = Console()


async def per_upload(settings: Settings, existing: int, uploads: int) -> tuple[float, float]:
    """Seconds of process CPU time and of wall time per upload, after ``existing`` rows of the
    same user."""
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60):
        transport = httpx2.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx2.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            email = f"bench-{new_id('usr')}@example.com"
            names = {"first_name": "B", "last_name": "U"}
            registered = await client.post(
                "/auth/register", json={"email": email, "password": PASSWORD, **names}
            )
            user_id = registered.json()["id"]
            login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            workspace = (
                await client.post("/workspaces", json={"name": "W"}, headers=headers)
            ).json()
            base = (
                await client.post(
                    "/bases", json={"workspace_id": workspace["id"], "name": "B"}, headers=headers
                )
            ).json()
            table = (
                await client.post(
                    "/tables", json={"base_id": base["id"], "name": "T"}, headers=headers
                )
            ).json()
            # The existing files are rows only: usage is summed from rows, bytes are not read.
            async with app.state.services.db.writer() as session:
                session.add_all(
                    StoredFile(
                        id=new_id("fil"),
                        workspace_id=workspace["id"],
                        table_id=table["id"],
                        uploaded_by=user_id,
                        filename="old.bin",
                        content_type="application/octet-stream",
                        size=len(CONTENT),
                        sha256="0" * 64,
                        uploaded_at=utcnow(),
                    )
                    for _ in range(existing)
                )
                await session.commit()
            started, wall = time.process_time(), time.perf_counter()
            for _ in range(uploads):
                answer = await client.post(
                    "/files/upload",
                    files={"file": ("new.bin", CONTENT)},
                    data={"table_id": table["id"]},
                    headers=headers,
                )
                if answer.status_code != 201:
                    raise RuntimeError(f"upload answered {answer.status_code}: {answer.text}")
            cpu = (time.process_time() - started) / uploads
            return cpu, (time.perf_counter() - wall) / uploads


def measure(database_url: str | None, existing: int, uploads: int) -> list[tuple[float, float]]:
    """(CPU, wall) per upload without and with quotas, each app on a fresh data dir."""
    results = []
    for quota_user, quota_workspace in ((0, 0), (1 << 40, 1 << 40)):
        with tempfile.TemporaryDirectory() as data_dir:
            settings = Settings(
                **FAST,
                database_url=database_url,
                data_dir=Path(data_dir),
                quota_bytes_per_user=quota_user,
                quota_bytes_per_workspace=quota_workspace,
            )
            results.append(asyncio.run(per_upload(settings, existing, uploads)))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer files and uploads")
    args = parser.parse_args(argv)
    existing = QUICK_EXISTING if args.quick else EXISTING
    uploads = QUICK_UPLOADS if args.quick else UPLOADS
    table = Table(title=f"Per upload, {existing:,} files held, {uploads} uploads")
    for column in ("database", "CPU off", "CPU on", "CPU on ÷ off", "wall off", "wall on"):
        table.add_column(column)
    targets: list[tuple[str, str | None]] = [("SQLite", None)]
    reason = postgres_unavailable()
    with contextlib.ExitStack() as stack:
        if reason is None:
            targets.append(("PostgreSQL", stack.enter_context(postgres_database())))
        else:
            console.print(f"PostgreSQL skipped: {reason}")
        for label, url in targets:
            (cpu_off, wall_off), (cpu_on, wall_on) = measure(url, existing, uploads)
            table.add_row(
                label,
                f"{cpu_off * 1000:.2f} ms",
                f"{cpu_on * 1000:.2f} ms",
                f"{cpu_on / cpu_off:.2f}",
                f"{wall_off * 1000:.2f} ms",
                f"{wall_on * 1000:.2f} ms",
            )
    console.print(table)
    return 0


if __name__ == "__main__":
    run_script(main, console)
