"""The ``pyairtable-integration`` command line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from . import seed as seeding
from .settings import (
    DEFAULT_DATA_DIR,
    DEFAULT_HOST,
    DEFAULT_PORT,
    SQLITE_FILE,
    Settings,
    load_secret_key,
)

WS_PING_INTERVAL_SECONDS = 25.0
WS_PING_TIMEOUT_SECONDS = 20.0
WS_MAX_MESSAGE_BYTES = 1024 * 1024
GRACEFUL_SHUTDOWN_SECONDS = 5
#: How long uvicorn's supervisor waits for a worker to answer its health ping before killing
#: it. Its default (5 s) is shorter than a spawned worker's start on a busy machine (imports
#: alone can take that long), so workers were killed and respawned before they ever served.
WORKER_HEALTHCHECK_SECONDS = 60

app = typer.Typer(
    name="pyairtable-integration",
    help="PyAirtable Integration: the reference backend and tools.",
    no_args_is_help=True,
    add_completion=False,
)
# soft_wrap: paths and URLs are printed whole, never broken over lines (a log reader copies them).
console = Console(stderr=True, soft_wrap=True)

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
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Server processes sharing the port. Set PYAIRTABLE_REDIS_URL so realtime "
            "events reach every worker at once (without it: within one poll interval).",
        ),
    ] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Run the API server (creating and migrating its database on first start)."""
    import uvicorn

    from .app import API_PREFIX, create_app
    from .http.server_protocol import protocol_options

    settings = Settings(database_url=database_url, data_dir=data_dir)
    console.print(f"[bold]PyAirtable API[/bold] listening on http://{host}:{port}{API_PREFIX}")
    _print_storage(settings)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "proxy_headers": False,
        # The sans-I/O websockets protocol pings every 25 s and drops a socket silent for 20 s
        # more (contract §8); the legacy one is deprecated.
        "ws": "websockets-sansio",
        "ws_ping_interval": WS_PING_INTERVAL_SECONDS,
        "ws_ping_timeout": WS_PING_TIMEOUT_SECONDS,
        "ws_max_size": WS_MAX_MESSAGE_BYTES,
        # Compressing every small event frame once per subscriber costs more CPU than the
        # bandwidth it saves (bench/realtime.py measured ~45 µs a frame).
        "ws_per_message_deflate": False,
        # Event streams never end on their own: give them this long to drain on shutdown.
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
        # httptools with the error envelope for unreadable requests and a limit on the head.
        **protocol_options(),
    }
    if workers == 1:
        uvicorn.run(create_app(settings), **options)
        return
    if settings.redis_url is None:
        console.print(
            f"  realtime between workers: from the event log every "
            f"{settings.realtime_poll_interval_seconds:g}s (set PYAIRTABLE_REDIS_URL for live)"
        )
    # Workers build their own app from the environment; the key is made here, once, so that
    # they cannot race to create it.
    load_secret_key(settings)
    if database_url is not None:
        os.environ["PYAIRTABLE_DATABASE_URL"] = database_url
    os.environ["PYAIRTABLE_DATA_DIR"] = str(data_dir)
    uvicorn.run(
        "pyairtable_server.app:create_app",
        factory=True,
        workers=workers,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        **options,
    )


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


@app.command("deactivate-user")
def deactivate_user(
    email: Annotated[str, typer.Argument(help="The account's email.")],
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """Deactivate an account: it cannot sign in any more and every session of it ends.

    Running servers close its WebSocket and SSE streams within one realtime poll interval, at
    once when PYAIRTABLE_REDIS_URL is set. Deactivate accounts this way, not by editing the row
    (open streams would then last until their access token expires).
    """
    import asyncio

    from .security.revocation import deactivate_account

    settings = Settings(database_url=database_url, data_dir=data_dir)
    try:
        asyncio.run(deactivate_account(settings, email))
    except LookupError as exc:
        console.print(f"[red]no account with the email[/red] {escape(email)}", highlight=False)
        raise typer.Exit(1) from exc
    console.print(f"Deactivated {escape(email)}; its sessions have ended.", highlight=False)


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
