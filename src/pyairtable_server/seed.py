"""``pyairtable-integration seed``: a demo account with a workspace, a base, tables and records.

Everything goes through the real API: the app runs in this process (its lifespan opens and
migrates the database, as ``serve`` does) and an httpx2 client talks to it over ASGI, so every
write is validated, audited and produces its events exactly as a client's would.

What it makes, in the workspace ``Demo workspace``, base ``Product launch``:

- ``People`` and ``Projects``: a handful of records each (a project's lead links to a person);
- ``Tasks``: one field of every type (contract §5) and N generated records, written with
  ``POST /records/batch`` 100 at a time; the values come from a seeded ``random.Random``, so
  record i is the same in every run (only the ids the server hands out differ);
- views ``Open tasks`` and ``Status board`` on Tasks, ``Active projects`` on Projects;
- a second account, ``DEMO2_EMAIL`` (same password), an editor of the workspace.

When the demo workspace already exists the seed changes nothing and says so.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

# The app (FastAPI, SQLAlchemy) and httpx2 are imported when seeding starts, not with this
# module: the CLI reads the constants below and must stay quick to start (``--help``).
if TYPE_CHECKING:
    import httpx2
    from fastapi import FastAPI

    from .settings import Settings

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "launch-party-42"
DEMO_FIRST_NAME = "Demo"
DEMO_LAST_NAME = "User"
#: A second member of the demo workspace (same password), to watch one user's edits reach another.
DEMO2_EMAIL = "demo2@example.com"
DEMO2_FIRST_NAME = "Second"
DEMO2_ROLE = "editor"
WORKSPACE_NAME = "Demo workspace"
BASE_NAME = "Product launch"
DEFAULT_RECORDS = 500
#: The API's batch limit (``schemas.records.MAX_BATCH``) and its prefix (``app.API_PREFIX``).
BATCH_SIZE = 100
API_PREFIX = "/api/v1"
RANDOM_SEED = 20260302
#: Dates are laid out around this day, not today, so that every run writes the same values.
LAUNCH_DAY = date(2026, 3, 2)
# The in-process app serves only this command: its rate limits must not throttle a large seed,
# and its counters stay in memory so that a Redis shared with running servers is not touched.
_SEED_RATE_LIMIT = "1000000000/minute"
_SEED_LIMITS_STORAGE = "memory://"
_ASGI_BASE_URL = f"http://pyairtable-seed{API_PREFIX}"
_ASGI_CLIENT = ("127.0.0.1", 0)
_LIFESPAN_TIMEOUT_SECONDS = 60
_REQUEST_TIMEOUT_SECONDS = 120.0

TASK_STATUSES = ("To do", "Doing", "Review", "Done")
TASK_TAGS = ("Backend", "Frontend", "Design", "Docs", "Marketing", "Infra", "Bug")
PROJECT_STATUSES = ("Planning", "Active", "Shipped")

# (name, email, phone, role, website)
PEOPLE = (
    (
        "Ada Lovelace",
        "ada@example.com",
        "+44 20 7946 0001",
        "Engineering",
        "https://ada.example.com",
    ),
    ("Grace Hopper", "grace@example.com", "+1 (555) 010-0002", "Engineering", None),
    ("Katherine Johnson", "katherine@example.com", "+1 (555) 010-0003", "Research", None),
    ("Alan Kay", "alan@example.com", "+1 (555) 010-0004", "Design", "https://alan.example.com"),
    ("Margaret Hamilton", "margaret@example.com", "+1 (555) 010-0005", "Engineering", None),
    ("Hedy Lamarr", "hedy@example.com", "+43 1 555 0006", "Marketing", None),
    ("Tim Berners-Lee", "tim@example.com", "+44 20 7946 0007", "Product", None),
    ("Radia Perlman", "radia@example.com", "+1 (555) 010-0008", "Infrastructure", None),
)
PEOPLE_ROLES = ("Engineering", "Research", "Design", "Marketing", "Product", "Infrastructure")

# (name, description, status, budget, start offset in days, lead index into PEOPLE)
PROJECTS = (
    ("Website relaunch", "New landing pages and pricing.", "Active", 48000.0, -30, 3),
    ("Mobile app beta", "iOS and Android beta for early customers.", "Active", 120000.0, -45, 0),
    ("Public API v1", "Stable REST API with SDKs.", "Shipped", 80000.0, -120, 4),
    ("Launch event", "Keynote, demos and the press kit.", "Planning", 25000.5, 14, 5),
    ("Support playbook", "Runbooks and macros for launch week.", "Planning", 6000.0, 7, 6),
    ("Data migration", "Move legacy customers to the new platform.", "Active", 35500.25, -10, 7),
)

_VERBS = ("Draft", "Review", "Ship", "Test", "Design", "Write", "Fix", "Plan", "Polish", "Measure")
_OBJECTS = (
    "landing page",
    "pricing table",
    "onboarding flow",
    "release notes",
    "press kit",
    "API docs",
    "signup form",
    "status page",
    "email campaign",
    "load test",
    "billing webhooks",
    "dashboard charts",
)
_NOTES = (
    "Check with legal before publishing.",
    "Blocked on the design review.\nFollow up on Thursday.",
    "Needs screenshots for both themes.",
    "Pair with support on the wording.",
    "Measure before and after; keep the numbers in the doc.",
)
#: The files uploaded to the Tasks table (real uploads through the API) for its attachments.
_FILES: tuple[tuple[str, str, str], ...] = (
    ("brief.md", "text/markdown", "# Launch brief\n\nShip the new onboarding by launch day.\n"),
    (
        "mockup.svg",
        "image/svg+xml",
        '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80">'
        '<rect width="120" height="80" fill="#4f46e5"/></svg>\n',
    ),
    ("budget.csv", "text/csv", "item,amount\ndesign,1200\nads,3400\n"),
    ("notes.txt", "text/plain", "Remember the accessibility review.\n"),
)


class SeedError(Exception):
    """The seed could not finish; str(exc) says why (with the API's own message, if it answered)."""


@dataclass(frozen=True)
class SeededTable:
    id: str
    name: str
    field_count: int
    record_count: int
    views: tuple[str, ...]


@dataclass(frozen=True)
class SeedReport:
    """What ``seed`` did: ``created`` is False when the demo workspace was already there."""

    created: bool
    workspace_id: str
    base_id: str | None = None
    tables: tuple[SeededTable, ...] = ()
    email: str = DEMO_EMAIL
    password: str = DEMO_PASSWORD


async def seed(
    settings: Settings, *, records: int = DEFAULT_RECORDS, console: Console | None = None
) -> SeedReport:
    """Seed the database of ``settings`` through the API; ``records`` is the size of Tasks.

    Progress goes to ``console`` (default: stderr). Raises ``SeedError`` when the API refuses a
    request, or the database or the data dir (which holds the secret key) cannot be used.
    """
    if records < 0:
        raise SeedError("the number of records must be 0 or more")
    from sqlalchemy.exc import SQLAlchemyError

    console = console or Console(stderr=True)
    try:
        async with _serving(settings) as client:
            return await _Seeder(_Api(client), console).run(records)
    except (OSError, SQLAlchemyError) as exc:
        problem = f"{type(exc).__name__}: {exc}"
        raise SeedError(f"the database or the data dir cannot be used: {problem}") from exc


@asynccontextmanager
async def _serving(settings: Settings) -> AsyncIterator[httpx2.AsyncClient]:
    """The app with its lifespan started, and a client that talks to it over ASGI."""
    import httpx2

    from .app import create_app

    app = create_app(
        settings.model_copy(
            update={
                "rate_limit_per_ip": _SEED_RATE_LIMIT,
                "rate_limit_per_token": _SEED_RATE_LIMIT,
                "rate_limit_storage_url": _SEED_LIMITS_STORAGE,
            }
        )
    )
    async with _lifespan(app):
        transport = httpx2.ASGITransport(app=app, client=_ASGI_CLIENT)
        async with httpx2.AsyncClient(
            transport=transport, base_url=_ASGI_BASE_URL, timeout=_REQUEST_TIMEOUT_SECONDS
        ) as client:
            yield client


def _lifespan(app: FastAPI) -> AbstractAsyncContextManager[object]:
    """asgi-lifespan's manager when installed (a dev dependency), else the app's own lifespan."""
    try:
        from asgi_lifespan import LifespanManager
    except ImportError:  # pragma: no cover - installs without the dev extra
        return app.router.lifespan_context(app)
    return LifespanManager(app, startup_timeout=_LIFESPAN_TIMEOUT_SECONDS)


class _Api:
    """Calls that must answer one status; anything else is a ``SeedError`` quoting the API."""

    def __init__(self, client: httpx2.AsyncClient) -> None:
        self.client = client

    async def call(
        self,
        method: str,
        path: str,
        *,
        expect: int = 200,
        json: Any = None,
        params: dict[str, str | int] | None = None,
    ) -> Any:
        response = await self.client.request(method, path, json=json, params=params)
        if response.status_code != expect:
            raise SeedError(f"{method} {API_PREFIX}{path} failed: {_problem(response)}")
        return response.json() if response.content else None

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = await self.call("POST", path, json=body, expect=201)
        return created


def _problem(response: httpx2.Response) -> str:
    """``HTTP 422 VALIDATION_ERROR: message (fields: …)`` from the error envelope, or the text."""
    try:
        error = response.json()["error"]
        text = f"HTTP {response.status_code} {error['type']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}: {response.text[:500]}"
    fields = (error.get("details") or {}).get("fields")
    return f"{text} (fields: {fields})" if fields else text


class _Seeder:
    def __init__(self, api: _Api, console: Console) -> None:
        self.api = api
        self.console = console

    async def run(self, records: int) -> SeedReport:
        await self._sign_in()
        existing = await self._find_workspace()
        if existing is not None:
            return SeedReport(created=False, workspace_id=existing)
        workspace = await self.api.create(
            "/workspaces",
            {
                "name": WORKSPACE_NAME,
                "description": "Sample data made by pyairtable-integration seed.",
            },
        )
        await self._second_member(workspace["id"])
        base = await self.api.create(
            "/bases",
            {"workspace_id": workspace["id"], "name": BASE_NAME, "description": "A launch plan."},
        )
        people = await self._people(base["id"])
        projects = await self._projects(base["id"], people)
        tasks = await self._tasks(base["id"], people, projects, records)
        return SeedReport(
            created=True,
            workspace_id=workspace["id"],
            base_id=base["id"],
            tables=(people.seeded, projects.seeded, tasks),
        )

    async def _sign_in(self) -> None:
        """Register the demo account (unless it exists) and use its access token from now on."""
        registration = {
            "email": DEMO_EMAIL,
            "password": DEMO_PASSWORD,
            "first_name": DEMO_FIRST_NAME,
            "last_name": DEMO_LAST_NAME,
        }
        response = await self.api.client.post("/auth/register", json=registration)
        if response.status_code not in (201, 409):
            raise SeedError(f"POST {API_PREFIX}/auth/register failed: {_problem(response)}")
        try:
            login = await self.api.call(
                "POST", "/auth/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
            )
        except SeedError as exc:
            raise SeedError(
                f"{exc}. The demo account {DEMO_EMAIL} exists but does not take the demo "
                "password (was it changed?)."
            ) from exc
        self.api.client.headers["Authorization"] = f"Bearer {login['access_token']}"

    async def _second_member(self, workspace_id: str) -> None:
        """Register the second demo account (unless it exists) and add it to the workspace."""
        registration = {
            "email": DEMO2_EMAIL,
            "password": DEMO_PASSWORD,
            "first_name": DEMO2_FIRST_NAME,
            "last_name": DEMO_LAST_NAME,
        }
        response = await self.api.client.post("/auth/register", json=registration)
        if response.status_code not in (201, 409):
            raise SeedError(f"POST {API_PREFIX}/auth/register failed: {_problem(response)}")
        await self.api.create(
            f"/workspaces/{workspace_id}/members", {"email": DEMO2_EMAIL, "role": DEMO2_ROLE}
        )

    async def _find_workspace(self) -> str | None:
        """The id of the demo account's workspace named ``WORKSPACE_NAME``, if there is one."""
        page = 1
        while True:
            listed = await self.api.call(
                "GET", "/workspaces", params={"page": page, "per_page": 100}
            )
            for workspace in listed["data"]:
                if workspace["name"] == WORKSPACE_NAME:
                    return str(workspace["id"])
            if not listed["pagination"]["has_next"]:
                return None
            page += 1

    async def _table(self, base_id: str, name: str, fields: list[dict[str, Any]]) -> dict[str, Any]:
        return await self.api.create(
            "/tables", {"base_id": base_id, "name": name, "fields": fields}
        )

    async def _insert(self, table_id: str, rows: Sequence[dict[str, Any]]) -> list[str]:
        """Create ``rows`` (at most one batch); the new record ids, in order."""
        created = await self.api.create(
            "/records/batch", {"table_id": table_id, "records": [{"fields": r} for r in rows]}
        )
        return [record["id"] for record in created["data"]]

    async def _upload(self, table_id: str, filename: str, media_type: str, content: str) -> str:
        """Upload one file to the table; its id."""
        response = await self.api.client.post(
            "/files/upload",
            data={"table_id": table_id},
            files={"file": (filename, content.encode(), media_type)},
        )
        if response.status_code != 201:
            raise SeedError(f"POST {API_PREFIX}/files/upload failed: {_problem(response)}")
        file_id: str = response.json()["file"]["id"]
        return file_id

    async def _view(self, table_id: str, name: str, type: str, configuration: Any) -> str:
        await self.api.create(
            "/views",
            {"table_id": table_id, "name": name, "type": type, "configuration": configuration},
        )
        return name

    async def _people(self, base_id: str) -> _Filled:
        table = await self._table(
            base_id,
            "People",
            [
                {"name": "Name", "type": "text", "required": True},
                {"name": "Email", "type": "email"},
                {"name": "Phone", "type": "phone"},
                {"name": "Role", "type": "select", "options": {"choices": list(PEOPLE_ROLES)}},
                {"name": "Website", "type": "url"},
            ],
        )
        rows = [
            _without_empty(
                {"Name": name, "Email": email, "Phone": phone, "Role": role, "Website": website}
            )
            for name, email, phone, role, website in PEOPLE
        ]
        ids = await self._insert(table["id"], rows)
        return _Filled(SeededTable(table["id"], "People", len(table["fields"]), len(ids), ()), ids)

    async def _projects(self, base_id: str, people: _Filled) -> _Filled:
        table = await self._table(
            base_id,
            "Projects",
            [
                {"name": "Name", "type": "text", "required": True},
                {"name": "Description", "type": "long_text"},
                {
                    "name": "Status",
                    "type": "select",
                    "options": {"choices": list(PROJECT_STATUSES)},
                },
                {"name": "Budget", "type": "number", "options": {"precision": 2}},
                {"name": "Starts", "type": "date"},
                {"name": "Active", "type": "checkbox"},
                {
                    "name": "Lead",
                    "type": "reference",
                    "options": {"referenced_table_id": people.seeded.id},
                },
            ],
        )
        rows = [
            {
                "Name": name,
                "Description": description,
                "Status": status,
                "Budget": budget,
                "Starts": (LAUNCH_DAY + timedelta(days=offset)).isoformat(),
                "Active": status == "Active",
                "Lead": [people.ids[lead]],
            }
            for name, description, status, budget, offset, lead in PROJECTS
        ]
        ids = await self._insert(table["id"], rows)
        view = await self._view(
            table["id"],
            "Active projects",
            "grid",
            {
                "filters": {
                    "conjunction": "and",
                    "conditions": [{"field": "Active", "operator": "equals", "value": True}],
                },
                "sorts": [{"field": "Starts", "direction": "asc"}],
            },
        )
        seeded = SeededTable(table["id"], "Projects", len(table["fields"]), len(ids), (view,))
        return _Filled(seeded, ids)

    async def _tasks(
        self, base_id: str, people: _Filled, projects: _Filled, records: int
    ) -> SeededTable:
        table = await self._table(base_id, "Tasks", task_fields(projects.seeded.id))
        views = (
            await self._view(
                table["id"],
                "Open tasks",
                "grid",
                {
                    "filters": {
                        "conjunction": "and",
                        "conditions": [{"field": "Done", "operator": "equals", "value": False}],
                    },
                    "sorts": [{"field": "Due", "direction": "asc"}],
                },
            ),
            await self._view(
                table["id"],
                "Status board",
                "kanban",
                {
                    "visible_fields": ["Name", "Status", "Owner", "Due", "Estimate"],
                    "field_order": ["Name", "Status", "Owner", "Due", "Estimate"],
                    "sorts": [{"field": "Number", "direction": "asc"}],
                },
            ),
        )
        owners = [email for _, email, *_ in PEOPLE]
        files = [await self._upload(table["id"], *spec) for spec in _FILES]
        rows = generate_tasks(
            records, project_ids=projects.ids, owner_emails=owners, file_ids=files
        )
        columns = (
            TextColumn("[bold]Tasks[/bold]"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        created = 0
        with Progress(*columns, console=self.console) as progress:
            bar = progress.add_task("records", total=records)
            for batch in _batches(rows, BATCH_SIZE):
                created += len(await self._insert(table["id"], batch))
                progress.update(bar, completed=created)
        return SeededTable(table["id"], "Tasks", len(table["fields"]), created, views)


@dataclass(frozen=True)
class _Filled:
    """A seeded table and the ids of its records, in the order they were written."""

    seeded: SeededTable
    ids: list[str]


def task_fields(projects_table_id: str) -> list[dict[str, Any]]:
    """The Tasks table: one field of each of the 16 types."""
    return [
        {"name": "Name", "type": "text", "required": True},
        {"name": "Notes", "type": "long_text"},
        {"name": "Status", "type": "select", "options": {"choices": list(TASK_STATUSES)}},
        {"name": "Tags", "type": "multiselect", "options": {"choices": list(TASK_TAGS)}},
        {"name": "Estimate", "type": "number", "options": {"precision": 1}},
        {"name": "Done", "type": "checkbox"},
        {"name": "Due", "type": "date"},
        {"name": "Starts", "type": "datetime"},
        {"name": "Owner", "type": "email"},
        {"name": "Link", "type": "url"},
        {"name": "Phone", "type": "phone"},
        {"name": "Files", "type": "attachment"},
        {
            "name": "Project",
            "type": "reference",
            "options": {"referenced_table_id": projects_table_id},
        },
        {"name": "Created", "type": "created_time"},
        {"name": "Updated", "type": "last_modified_time"},
        {"name": "Number", "type": "autonumber"},
    ]


def generate_tasks(
    count: int,
    *,
    project_ids: Sequence[str],
    owner_emails: Sequence[str],
    file_ids: Sequence[str] = (),
    seed: int = RANDOM_SEED,
) -> Iterator[dict[str, Any]]:
    """``count`` Tasks rows (fields by name), the same for the same arguments in every run.

    Row i does not depend on ``count``: a longer run starts with the rows of a shorter one.
    """
    rng = random.Random(seed)
    for index in range(count):
        yield _task(rng, index + 1, project_ids, owner_emails, file_ids)


def _task(
    rng: random.Random,
    number: int,
    project_ids: Sequence[str],
    owner_emails: Sequence[str],
    file_ids: Sequence[str],
) -> dict[str, Any]:
    status = rng.choices(TASK_STATUSES, weights=(4, 3, 2, 3))[0]
    due = LAUNCH_DAY + timedelta(days=rng.randint(-60, 90))
    starts = datetime.combine(
        due - timedelta(days=rng.randint(1, 14)), time(rng.randint(8, 17), rng.choice((0, 30)))
    ).replace(tzinfo=UTC)
    row: dict[str, Any] = {
        "Name": f"{rng.choice(_VERBS)} {rng.choice(_OBJECTS)} #{number}",
        "Notes": rng.choice(_NOTES) if rng.random() < 0.4 else None,
        "Status": status,
        "Tags": rng.sample(TASK_TAGS, k=rng.randint(0, 3)),
        "Estimate": round(rng.uniform(0.5, 16.0), 1),
        "Done": True if status == "Done" else None,
        "Due": due.isoformat(),
        "Starts": starts.isoformat().replace("+00:00", "Z"),
        "Owner": rng.choice(owner_emails) if owner_emails else None,
        "Link": f"https://tracker.example.com/tasks/{number}" if rng.random() < 0.5 else None,
        "Phone": f"+1 (555) 010-{rng.randint(0, 9999):04d}" if rng.random() < 0.3 else None,
        "Files": _files(rng, file_ids) if rng.random() < 0.2 else None,
        "Project": [rng.choice(project_ids)] if project_ids else None,
    }
    return _without_empty(row)


def _files(rng: random.Random, file_ids: Sequence[str]) -> list[dict[str, Any]] | None:
    """One or two of the uploaded files (the server fills in their names, sizes and types)."""
    count = rng.randint(1, 2)
    if not file_ids:
        return None
    return [{"id": file_id} for file_id in rng.sample(list(file_ids), k=min(count, len(file_ids)))]


def _without_empty(row: dict[str, Any]) -> dict[str, Any]:
    """Leave empty cells out, as the API does when it answers."""
    return {name: value for name, value in row.items() if value not in (None, [], "")}


def _batches(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
