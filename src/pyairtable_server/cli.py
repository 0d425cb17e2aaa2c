"""The ``pyairtable-integration`` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from . import seed as seeding
from .settings import DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT, SQLITE_FILE, Settings

app = typer.Typer(
    name="pyairtable-integration",
    help="PyAirtable Integration: the reference backend and tools.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)

# Shared by every command that opens the database, so that they all find the same one.
DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        envvar="PYAIRTABLE_DATABASE_URL",
        help="postgresql://… or sqlite:///…; default: SQLite in the data dir.",
    ),
]
DataDirOption = Annotated[
    Path,
    typer.Option(envvar="PYAIRTABLE_DATA_DIR", help="Where the SQLite database and key live."),
]


@app.callback()
def _root() -> None:
    """PyAirtable Integration: the reference backend and tools."""


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = DEFAULT_PORT,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Run the API server (creating and migrating its database on first start)."""
    import uvicorn

    from .app import API_PREFIX, create_app

    settings = Settings(database_url=database_url, data_dir=data_dir)
    application = create_app(settings)
    console.print(f"[bold]PyAirtable API[/bold] listening on http://{host}:{port}{API_PREFIX}")
    _print_storage(settings)
    uvicorn.run(application, host=host, port=port, log_level=log_level, proxy_headers=False)


@app.command()
def seed(
    records: Annotated[
        int, typer.Option(min=0, help="How many records to generate in the Tasks table.")
    ] = seeding.DEFAULT_RECORDS,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """Fill the database with a demo account, workspace, base, tables, views and records.

    Everything is written through the API, in this process. If the demo workspace exists already,
    nothing is changed.
    """
    import asyncio

    settings = Settings(database_url=database_url, data_dir=data_dir)
    console.print("[bold]Seeding demo data[/bold]")
    _print_storage(settings)
    try:
        report = asyncio.run(seeding.seed(settings, records=records, console=console))
    except seeding.SeedError as exc:
        console.print(f"[red]seed failed:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from exc
    _print_seed_report(report)


def _print_seed_report(report: seeding.SeedReport) -> None:
    """What the seed made (or found), and the demo login, on stdout."""
    out = Console(highlight=False, soft_wrap=True)
    if not report.created:
        out.print(
            f"Already seeded: the workspace {seeding.WORKSPACE_NAME!r} ({report.workspace_id}) "
            "exists, nothing was changed (delete it to seed again)."
        )
    else:
        out.print(f"Created workspace {seeding.WORKSPACE_NAME!r} ({report.workspace_id})")
        out.print(f"  base {seeding.BASE_NAME!r} ({report.base_id})")
        for table in report.tables:
            views = f", views: {', '.join(table.views)}" if table.views else ""
            out.print(
                f"  table {table.name!r} ({table.id}): {table.field_count} fields, "
                f"{table.record_count} records{views}"
            )
    out.print(f"Log in as {report.email} with password {report.password}")


def _print_storage(settings: Settings) -> None:
    data_path = settings.data_dir.resolve()
    if settings.uses_default_sqlite:
        database = f"SQLite at {data_path / SQLITE_FILE}"
    else:
        database = _redact(settings.resolved_database_url)
    console.print(f"  database: {database}")
    console.print(f"  data dir: {data_path}")


def _redact(url: str) -> str:
    """Hide a password in a database URL before it is printed."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    app()
