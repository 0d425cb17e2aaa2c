"""The ``pyairtable-integration`` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .settings import DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT, SQLITE_FILE

app = typer.Typer(
    name="pyairtable-integration",
    help="PyAirtable Integration: the reference backend and tools.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)


@app.callback()
def _root() -> None:
    """PyAirtable Integration: the reference backend and tools."""


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = DEFAULT_PORT,
    database_url: Annotated[
        str | None,
        typer.Option(
            envvar="PYAIRTABLE_DATABASE_URL",
            help="postgresql://… or sqlite:///…; default: SQLite in the data dir.",
        ),
    ] = None,
    data_dir: Annotated[
        Path,
        typer.Option(envvar="PYAIRTABLE_DATA_DIR", help="Where the SQLite database and key live."),
    ] = DEFAULT_DATA_DIR,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Run the API server (creating and migrating its database on first start)."""
    import uvicorn

    from .app import API_PREFIX, create_app
    from .settings import Settings

    settings = Settings(database_url=database_url, data_dir=data_dir)
    application = create_app(settings)
    data_path = settings.data_dir.resolve()
    if settings.uses_default_sqlite:
        database = f"SQLite at {data_path / SQLITE_FILE}"
    else:
        database = _redact(settings.resolved_database_url)
    console.print(f"[bold]PyAirtable API[/bold] listening on http://{host}:{port}{API_PREFIX}")
    console.print(f"  database: {database}")
    console.print(f"  data dir: {data_path}")
    uvicorn.run(application, host=host, port=port, log_level=log_level, proxy_headers=False)


def _redact(url: str) -> str:
    """Hide a password in a database URL before it is printed."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    app()
