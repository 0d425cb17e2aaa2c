"""``pyairtable-demo``: the backend (seeded on first run) and the demo app, together.

Its own command, not one of the server's: the server's command line never imports the demo.
Needs the ``ui`` and ``server`` extras.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from pyairtable_server import seed as seeding
from pyairtable_server.settings import DEFAULT_HOST, DEFAULT_PORT

from ._serve import run_demo

console = Console(stderr=True, soft_wrap=True)  # paths and URLs printed whole
app = typer.Typer(name="pyairtable-demo", add_completion=False)


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port of the demo app.")] = 8000,
    api_port: Annotated[int, typer.Option(help="Port of the backend it starts.")] = DEFAULT_PORT,
    host: Annotated[str, typer.Option(help="Interface both listen on.")] = DEFAULT_HOST,
    data_dir: Annotated[
        Path, typer.Option(help="The demo's database, secrets and offline outboxes.")
    ] = Path(".pyairtable-demo"),
    app_only: Annotated[
        bool, typer.Option("--app-only", help="Run only the app, against --api-url.")
    ] = False,
    api_url: Annotated[
        str | None,
        typer.Option(help="The backend for --app-only, e.g. http://127.0.0.1:8080/api/v1."),
    ] = None,
    next_app: Annotated[
        bool,
        typer.Option(
            "--next",
            help="The Next.js demo (TypeScript package) instead of the Solara one; "
            "needs a source checkout, Node.js 20.19+ and npm.",
        ),
    ] = False,
) -> None:
    """Run the demo: the backend on SQLite (seeded on first run) and the web app; prints its URL.

    With ``--next``, the Next.js demo of the TypeScript package instead of the Solara one.
    """
    if next_app:
        from ._next import run_next_demo

        try:
            run_next_demo(
                host=host, port=port, api_port=api_port, data_dir=data_dir, console=console
            )
        except (seeding.SeedError, RuntimeError) as exc:
            console.print(f"[red]demo failed:[/red] {escape(str(exc))}", highlight=False)
            raise typer.Exit(1) from exc
        return
    if app_only and api_url is None:
        console.print("[red]--app-only needs --api-url[/red]")
        raise typer.Exit(2)
    try:
        run_demo(
            host=host,
            port=port,
            api_port=api_port,
            data_dir=data_dir,
            app_only=app_only,
            api_url=api_url,
            console=console,
        )
    except (seeding.SeedError, RuntimeError) as exc:
        console.print(f"[red]demo failed:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from exc


def main() -> None:
    app()
