"""``pyairtable-demo``: the backend (seeded on first run) and the app, together."""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2
from rich.console import Console

from pyairtable_server import seed as seeding
from pyairtable_server.settings import Settings

from ._app import create_app

BACKEND_START_SECONDS = 60.0
BACKEND_POLL_SECONDS = 0.2
RECORDS = 50  # a table small enough to read at a glance


def run_demo(
    *,
    host: str,
    port: int,
    api_port: int,
    data_dir: Path,
    app_only: bool,
    api_url: str | None,
    console: Console,
) -> None:
    """Serve the demo until interrupted: the backend as a child process unless ``app_only``.

    Raises:
        SeedError: the first run could not seed the backend's database.
        RuntimeError: the backend did not start.
    """
    import uvicorn

    backend: subprocess.Popen[bytes] | None = None
    if not app_only:
        backend_dir = data_dir / "backend"
        console.print("[bold]Seeding the demo data[/bold] (only on the first run)")
        report = asyncio.run(
            seeding.seed(Settings(data_dir=backend_dir), records=RECORDS, console=console)
        )
        if report.created:
            console.print(f"  made the workspace {seeding.WORKSPACE_NAME!r}")
        api_url = f"http://{host}:{api_port}/api/v1"
        backend = start_backend(host, api_port, backend_dir, api_url)
    assert api_url is not None  # the CLI asks for it with --app-only
    try:
        app = create_app(api_url=api_url, data_dir=data_dir / "app")
        out = Console(highlight=False, soft_wrap=True)
        out.print(f"PyAirtable demo: http://{host}:{port}/")
        out.print(f"  sign in as {seeding.DEMO_EMAIL} (or {seeding.DEMO2_EMAIL}), password "
                  f"{seeding.DEMO_PASSWORD}")  # fmt: skip
        out.print(f"  API: {api_url}")
        uvicorn.run(app, host=host, port=port, log_level="warning", ws="websockets-sansio")
    finally:
        if backend is not None:
            backend.terminate()
            backend.wait()


def start_backend(
    host: str, port: int, data_dir: Path, api_url: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """``pyairtable-integration serve`` as a child process, once it answers its health check.

    ``env`` adds to the environment it inherits (``PYAIRTABLE_CORS_ORIGINS``, say).
    """
    command = [sys.executable, "-m", "pyairtable_server", "serve"]
    command += ["--host", host, "--port", str(port), "--data-dir", str(data_dir)]
    command += ["--log-level", "warning"]
    process = subprocess.Popen(  # noqa: S603 - our own server, fixed arguments
        command,
        env={**os.environ, **(env or {})},
        preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
    )
    deadline = time.monotonic() + BACKEND_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the backend exited with {process.returncode} while starting")
        try:
            if httpx2.get(f"{api_url}/health", timeout=2.0).status_code < 500:
                return process
        except httpx2.TransportError:
            pass
        time.sleep(BACKEND_POLL_SECONDS)
    process.terminate()
    raise RuntimeError(f"the backend did not answer at {api_url} within {BACKEND_START_SECONDS}s")


PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Runs in the child before exec: Linux sends it SIGTERM when the demo process dies, so a
    # demo killed hard (kill -9, a closed terminal) does not leave the backend holding its port.
    # Elsewhere only a normal exit stops the backend (the ``finally`` in ``run_demo``).
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
