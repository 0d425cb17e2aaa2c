"""The targets the server benchmarks compare, and what both scripts do with them alike.

- ``TARGETS``: ``baseline`` (bare Starlette, ``_harness.baseline_app``), ``sqlite`` and
  ``postgres`` (the reference backend on that database), printed as ``TARGET_LABELS``.
- ``add_arguments`` gives a script's command line ``--targets``, ``--concurrency`` and
  ``--duration`` (or ``--quick``, which stores ``QUICK_DURATION`` there).
- ``serve_baseline`` and ``serve_api`` run a target's server until the block ends; the API gets a
  fresh data directory and rate limits it never reaches. ``postgres_database`` is a throwaway
  database for it (``postgres_unavailable`` says why there can be none), and ``sign_up``
  registers and signs in a fresh user through it.
- ``add_load_columns`` and ``load_cells`` are the table columns of one load result, with its req/s
  and p50 as ratios of the baseline's; ``print_errors`` prints a result's failures.
- ``run_script`` runs a script's ``main`` and turns Ctrl-C, SIGTERM and ``RuntimeError`` into an
  exit status.

The PostgreSQL server is taken from ``PYAIRTABLE_BENCH_POSTGRES_DSN`` (default
``postgresql://postgres@127.0.0.1:5432/test``, a database the benchmark may connect to).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Literal, NoReturn, get_args

import asyncpg
import httpx2
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.engine import make_url

from bench._harness import BASELINE_APP, BASELINE_PATH, LoadResult, clean_environment, serve
from pyairtable_server.http.server_protocol import protocol_options

Target = Literal["baseline", "sqlite", "postgres"]
TARGETS: tuple[Target, ...] = get_args(Target)
TARGET_LABELS: dict[Target, str] = {
    "baseline": "bare Starlette",
    "sqlite": "API on SQLite",
    "postgres": "API on PostgreSQL",
}
POSTGRES_ADMIN_DSN = os.environ.get(
    "PYAIRTABLE_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
API = "/api/v1"
DEFAULT_CONCURRENCY = 32
DEFAULT_DURATION = 5.0
QUICK_DURATION = 1.0
WARMUP_SECONDS = 1.0
BASELINE_CAPTION = "baseline: bare Starlette; vs base: target ÷ baseline, measured in this run"
_SERVER_APP = "pyairtable_server.app:create_app"
# Not a breached password, and none of the user's names (the sign-up policy refuses those).
_PASSWORD = "Quartz-Lantern-7319"
# High enough that the limiter is measured but never refuses.
_UNREACHABLE_LIMIT = "10000000/minute"
_LOAD_COLUMNS = (
    "requests",
    "req/s",
    "p50 ms",
    "p99 ms",
    "req/s\nvs base",
    "p50\nvs base",
    "errors",
)


# -- the command line -----------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser, *, per: str) -> None:
    """Add ``--targets``, ``--concurrency`` and ``--duration`` or ``--quick`` (both set
    ``duration``); ``per`` is what one duration is measured for, in the help ("target")."""
    parser.add_argument(
        "--targets",
        nargs="+",
        choices=TARGETS,
        default=list(TARGETS),
        help="what to measure, in this order (default: all); the ratios need baseline",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive_int,
        default=DEFAULT_CONCURRENCY,
        help=f"concurrent keep-alive connections (default: {DEFAULT_CONCURRENCY})",
    )
    timing = parser.add_mutually_exclusive_group()
    timing.add_argument(
        "--duration",
        type=_positive_float,
        default=DEFAULT_DURATION,
        help=f"measured seconds per {per}, after warm-up (default: {DEFAULT_DURATION:g})",
    )
    timing.add_argument(
        "--quick",
        action="store_const",
        dest="duration",
        const=QUICK_DURATION,
        help=f"smoke run: {QUICK_DURATION:g} s per {per}",
    )


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


# -- the servers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiServer:
    """The reference backend answering on ``base_url`` (``API`` not included), its files kept in
    ``data_dir``, served by process ``pid``."""

    base_url: str
    data_dir: Path
    pid: int


@contextmanager
def serve_baseline() -> Iterator[str]:
    """Run bare Starlette until the block ends; the URL of its one endpoint."""
    env = clean_environment()
    with serve(BASELINE_APP, env=env, health_path=BASELINE_PATH, factory=True) as server:
        yield server.base_url + BASELINE_PATH


@contextmanager
def serve_api(
    database_url: str | None,
    *,
    app: str = _SERVER_APP,
    env: Mapping[str, str] | None = None,
    workers: int = 1,
    options: Sequence[str] | None = None,
) -> Iterator[ApiServer]:
    """Run the reference backend on ``database_url`` (None: SQLite in its data directory), with a
    fresh data directory, until the block ends. ``app``: the factory to serve (an import string),
    ``env``: more environment variables for it, ``workers``: its processes (``pid`` is then
    uvicorn's supervisor, the workers its children), ``options``: uvicorn's command-line options
    (default: ``server_options()``, the HTTP protocol ``pyairtable-integration serve`` runs)."""
    with tempfile.TemporaryDirectory(prefix="pyairtable-bench-") as data_dir:
        environment = {
            **clean_environment(),
            **_api_settings(database_url, Path(data_dir)),
            **(env or {}),
        }
        health = f"{API}/health"
        with serve(
            app,
            env=environment,
            health_path=health,
            factory=True,
            workers=workers,
            options=server_options() if options is None else options,
        ) as server:
            yield ApiServer(server.base_url, Path(data_dir), server.process.pid)


def server_options() -> list[str]:
    """uvicorn's command-line options for the HTTP protocol and head limit that
    ``pyairtable-integration serve`` runs with (``server_protocol.protocol_options``), so that
    the benchmarks measure what a user runs rather than uvicorn's default protocol."""
    return [f"--{name.replace('_', '-')}={value}" for name, value in protocol_options().items()]


def _api_settings(database_url: str | None, data_dir: Path) -> dict[str, str]:
    """The server's ``PYAIRTABLE_*`` variables; Argon2 keeps its defaults (logins are not timed)."""
    settings = {
        "PYAIRTABLE_DATA_DIR": str(data_dir),
        "PYAIRTABLE_SECRET_KEY": secrets.token_urlsafe(48),
        "PYAIRTABLE_RATE_LIMIT_PER_IP": _UNREACHABLE_LIMIT,
        "PYAIRTABLE_RATE_LIMIT_PER_TOKEN": _UNREACHABLE_LIMIT,
        "PYAIRTABLE_LOGIN_FAILURES_PER_ACCOUNT": _UNREACHABLE_LIMIT,
        "PYAIRTABLE_LOGIN_FAILURES_PER_IP": _UNREACHABLE_LIMIT,
        "PYAIRTABLE_REGISTRATIONS_PER_IP": _UNREACHABLE_LIMIT,
        # Every subscriber is one user on one address, and there may be 10,000 of them.
        "PYAIRTABLE_REALTIME_MAX_CONNECTIONS": "1000000",
        "PYAIRTABLE_REALTIME_MAX_CONNECTIONS_PER_USER": "1000000",
        "PYAIRTABLE_REALTIME_MAX_CONNECTIONS_PER_IP": "1000000",
    }
    if database_url is not None:
        settings["PYAIRTABLE_DATABASE_URL"] = database_url
    return settings


def postgres_unavailable() -> str | None:
    """None when the PostgreSQL server answers, else why not."""
    try:
        asyncio.run(_postgres_admin("SELECT 1"))
    except (OSError, asyncpg.PostgresError) as exc:
        where = make_url(POSTGRES_ADMIN_DSN).render_as_string(hide_password=True)
        return f"PostgreSQL at {where} is not reachable ({type(exc).__name__}: {exc})"
    return None


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, uniquely named database on the local server, dropped when the block ends.

    Raises ``RuntimeError`` when the server is not reachable.
    """
    name = "pyairtable_bench_" + secrets.token_hex(6)
    try:
        asyncio.run(_postgres_admin(f'CREATE DATABASE "{name}"'))
    except OSError as exc:
        where = make_url(POSTGRES_ADMIN_DSN).render_as_string(hide_password=True)
        raise RuntimeError(f"PostgreSQL at {where} is not reachable: {exc}") from exc
    try:
        yield make_url(POSTGRES_ADMIN_DSN).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _postgres_admin(statement: str) -> None:
    conn = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=10)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


# -- the API --------------------------------------------------------------------------------------


def sign_up(client: httpx2.Client) -> dict[str, Any]:
    """Register a fresh user and sign in, on a client whose base URL is the API's; the login answer.

    From then on ``client`` sends the user's bearer token. Raises ``RuntimeError`` when the API
    answers anything unexpected.
    """
    email = f"bench-{secrets.token_hex(4)}@example.com"
    user = {"email": email, "password": _PASSWORD, "first_name": "Bench", "last_name": "Mark"}
    expect(client.post("/auth/register", json=user), 201)
    login = expect(client.post("/auth/login", json={"email": email, "password": _PASSWORD}), 200)
    client.headers["Authorization"] = f"Bearer {login['access_token']}"
    return login


def expect(response: httpx2.Response, status: int) -> dict[str, Any]:
    """The response's JSON body; raises ``RuntimeError`` when it did not answer ``status``."""
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url} answered "
            f"{response.status_code}, expected {status}: {response.text[:500]}"
        )
    body: dict[str, Any] = response.json()
    return body


# -- the report -----------------------------------------------------------------------------------


def add_load_columns(table: Table) -> None:
    """Add the columns ``load_cells`` fills, right-aligned."""
    for column in _LOAD_COLUMNS:
        table.add_column(column, justify="right")


def load_cells(result: LoadResult, baseline: LoadResult | None) -> list[str]:
    """Requests, req/s, p50 and p99 latency, req/s and p50 as ratios of the baseline's ("n/a"
    without one), and errors."""
    base_rps = baseline.requests_per_second if baseline else None
    base_p50 = baseline.percentile_ms(50) if baseline else None
    return [
        f"{len(result.latencies):,}",
        f"{result.requests_per_second:,.0f}",
        f"{result.percentile_ms(50):.2f}",
        f"{result.percentile_ms(99):.2f}",
        _ratio(result.requests_per_second, base_rps),
        _ratio(result.percentile_ms(50), base_p50),
        str(result.error_count),
    ]


def _ratio(value: float, baseline: float | None) -> str:
    # Three significant digits, trailing zeros kept ("1.00x"), no bare point ("113x").
    return "n/a" if not baseline else f"{value / baseline:#.3g}".rstrip(".") + "x"


def print_errors(console: Console, where: str, result: LoadResult) -> None:
    """Print how many requests failed, by kind, and the first detail of each kind."""
    console.print(
        f"[red]{where}: {result.error_count} failed requests "
        f"{escape(str(dict(result.errors)))}[/red]"
    )
    for kind, detail in result.error_samples.items():
        console.print(f"  {kind}: {detail}", markup=False, highlight=False)


def run_script(main: Callable[[], int], console: Console) -> NoReturn:
    """Exit with ``main()``'s status; on Ctrl-C or SIGTERM with 130, on ``RuntimeError`` with 1,
    each after a line that says so (by then every server is stopped and the database dropped)."""
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        console.print("[red]interrupted; servers stopped[/red]")
        sys.exit(130)
    except RuntimeError as exc:
        console.print(f"[red]benchmark failed:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(1)


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    """On SIGTERM, unwind as on Ctrl-C: every server is stopped and the database dropped."""
    raise KeyboardInterrupt
