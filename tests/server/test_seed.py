"""``pyairtable-integration seed``: the demo account and data, made through the API, only once.

The seed logic runs in-process on each database, every test on an empty one (a temporary SQLite
data dir, or the emptied PostgreSQL test database); two tests run the real command in a
subprocess.
"""

from __future__ import annotations

import io
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from pyairtable_server.app import API_PREFIX
from pyairtable_server.fieldtypes import FIELD_TYPES
from pyairtable_server.schemas.records import MAX_BATCH
from pyairtable_server.seed import API_PREFIX as SEED_API_PREFIX
from pyairtable_server.seed import (
    BASE_NAME,
    BATCH_SIZE,
    DEMO_EMAIL,
    DEMO_PASSWORD,
    WORKSPACE_NAME,
    SeedError,
    generate_tasks,
    seed,
)
from pyairtable_server.settings import Settings

from .backend import Actor, Api, running_api
from .process import CLI, clean_environment

pytestmark = pytest.mark.anyio

RECORDS = 120
CLI_RECORDS = 10
CLI_TIMEOUT_SECONDS = 120


def _quiet() -> Console:
    return Console(file=io.StringIO(), width=120)


async def _get(api: Api, actor: Actor, path: str, **params: Any) -> Any:
    response = await api.client.get(path, params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def _all_records(api: Api, actor: Actor, table_id: str, **params: Any) -> list[Any]:
    records: list[Any] = []
    offset = None
    while True:
        extra: dict[str, str] = {"offset": offset} if offset else {}
        page = await _get(api, actor, "/records", table_id=table_id, **params, **extra)
        records += page["data"]
        offset = page["pagination"]["next_offset"]
        if offset is None:
            return records


async def _demo_tables(api: Api) -> tuple[Actor, list[dict[str, Any]], dict[str, Any]]:
    """Sign in as the demo user; its one workspace's tables, and the workspace list."""
    demo = await api.login(DEMO_EMAIL, DEMO_PASSWORD)
    workspaces = await _get(api, demo, "/workspaces")
    (workspace,) = workspaces["data"]
    bases = await _get(api, demo, "/bases", workspace_id=workspace["id"])
    (base,) = bases["data"]
    assert base["name"] == BASE_NAME
    tables = await _get(api, demo, "/tables", base_id=base["id"])
    return demo, tables["data"], workspaces


async def test_seed_makes_the_demo_account_and_every_field_type(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    report = await seed(settings, records=RECORDS, console=_quiet())

    assert report.created
    assert (report.email, report.password) == (DEMO_EMAIL, DEMO_PASSWORD)
    async with running_api(settings) as api:
        demo, tables, workspaces = await _demo_tables(api)
        assert demo.user["first_name"] == "Demo"
        assert demo.user["last_name"] == "User"
        assert workspaces["data"][0]["name"] == WORKSPACE_NAME
        assert workspaces["data"][0]["id"] == report.workspace_id
        by_name = {t["name"]: t for t in tables}
        assert set(by_name) == {"People", "Projects", "Tasks"}
        tasks = by_name["Tasks"]
        assert {f["type"] for f in tasks["fields"]} == set(FIELD_TYPES)
        estimate = next(f for f in tasks["fields"] if f["name"] == "Estimate")
        assert estimate["options"] == {"precision": 1}
        project = next(f for f in tasks["fields"] if f["name"] == "Project")
        assert project["options"]["referenced_table_id"] == by_name["Projects"]["id"]
        assert tasks["record_count"] == RECORDS
        assert {t.name: t.record_count for t in report.tables} == {
            name: t["record_count"] for name, t in by_name.items()
        }

        records = await _all_records(api, demo, tasks["id"])
        assert len(records) == RECORDS
        assert sorted(r["fields"]["Number"] for r in records) == list(range(1, RECORDS + 1))
        assert all(r["version"] == 1 for r in records)
        written = {name for r in records for name in r["fields"]}
        assert written == {f["name"] for f in tasks["fields"]}, "every field holds some value"
        project_ids = {r["id"] for r in await _all_records(api, demo, by_name["Projects"]["id"])}
        assert {r["fields"]["Project"][0] for r in records} <= project_ids


async def test_the_open_tasks_view_lists_undone_tasks_by_due_date(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    await seed(settings, records=RECORDS, console=_quiet())
    async with running_api(settings) as api:
        demo, tables, _ = await _demo_tables(api)
        tasks = next(t for t in tables if t["name"] == "Tasks")
        views = await _get(api, demo, "/views", table_id=tasks["id"])
        open_tasks = next(v for v in views["data"] if v["name"] == "Open tasks")
        listed = await _all_records(api, demo, tasks["id"], view_id=open_tasks["id"])
        undone = [
            r for r in await _all_records(api, demo, tasks["id"]) if not r["fields"].get("Done")
        ]
    assert 0 < len(listed) < RECORDS
    assert {r["id"] for r in listed} == {r["id"] for r in undone}
    dues = [r["fields"]["Due"] for r in listed]
    assert dues == sorted(dues)


async def test_a_second_seed_changes_nothing(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    first = await seed(settings, records=RECORDS, console=_quiet())
    second = await seed(settings, records=RECORDS, console=_quiet())

    assert not second.created
    assert second.workspace_id == first.workspace_id
    async with running_api(settings) as api:
        _, tables, workspaces = await _demo_tables(api)
    assert workspaces["pagination"]["total"] == 1
    assert {t["name"]: t["record_count"] for t in tables} == {
        t.name: t.record_count for t in first.tables
    }


async def test_an_api_refusal_is_a_seed_error_quoting_the_api(
    make_settings: Callable[..., Settings],
) -> None:
    """The demo email is taken with another password: login fails, and the message says so."""
    settings = make_settings()
    async with running_api(settings) as api:
        await api.register(DEMO_EMAIL, password="someone-else's-password")

    with pytest.raises(SeedError) as caught:
        await seed(settings, records=1, console=_quiet())

    message = str(caught.value)
    assert "/api/v1/auth/login failed: HTTP 401 AUTH_ERROR" in message
    assert DEMO_EMAIL in message


def test_generated_records_are_the_same_in_every_run() -> None:
    projects, owners = ["recAAAAAAAAAAAAAAAA1", "recAAAAAAAAAAAAAAAA2"], ["a@example.com"]
    first = list(generate_tasks(150, project_ids=projects, owner_emails=owners))
    again = list(generate_tasks(150, project_ids=projects, owner_emails=owners))
    shorter = list(generate_tasks(40, project_ids=projects, owner_emails=owners))

    assert first == again
    assert shorter == first[:40]


def test_the_seed_module_mirrors_the_api_limits_it_cannot_import_cheaply() -> None:
    assert BATCH_SIZE == MAX_BATCH
    assert SEED_API_PREFIX == API_PREFIX


def test_the_command_seeds_once_and_prints_the_login(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    command = [CLI, "seed", "--records", str(CLI_RECORDS), "--data-dir", str(data_dir)]

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command,
            env=clean_environment(),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_SECONDS,
            check=False,
        )

    first = run()
    assert first.returncode == 0, first.stderr
    assert f"{CLI_RECORDS} records" in first.stdout
    assert DEMO_EMAIL in first.stdout
    assert DEMO_PASSWORD in first.stdout
    second = run()
    assert second.returncode == 0, second.stderr
    assert "Already seeded" in second.stdout

    with sqlite3.connect(data_dir / "pyairtable.db") as conn:
        (tasks_count,) = conn.execute(
            "SELECT count(*) FROM records JOIN data_tables ON records.table_id = data_tables.id "
            "WHERE data_tables.name = 'Tasks'"
        ).fetchone()
        (workspaces,) = conn.execute("SELECT count(*) FROM workspaces").fetchone()
    assert (tasks_count, workspaces) == (CLI_RECORDS, 1)


def test_the_command_fails_clearly_when_the_database_is_unreachable(tmp_path: Path) -> None:
    result = subprocess.run(
        [CLI, "seed", "--database-url", "postgresql://nobody@127.0.0.1:1/nothing"],
        env=clean_environment(COLUMNS="200"),  # one line per message: rich wraps at 80
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 1
    assert "seed failed" in result.stderr
    assert "the database or the data dir cannot be used" in result.stderr
