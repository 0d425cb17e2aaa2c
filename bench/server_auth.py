"""Throughput and latency of an authenticated ``GET /api/v1/workspaces``, against bare Starlette.

Measures requests/s and p50/p99 latency of the reference backend's workspace list, called with a
bearer token by a user who owns a few workspaces, once on SQLite and once on PostgreSQL. Each
request passes the whole stack: middleware, the per-IP and per-token rate limits (set high enough
never to answer 429), token decoding, the session lookup and the list queries. The same run also
measures a bare Starlette app answering a similar small JSON body, and reports every target's
req/s and p50 as ratios of that baseline: on a small, noisy machine the ratios are what compare
between runs, not the absolute numbers.

Every server is its own uvicorn process (one worker, no access log) on a free 127.0.0.1 port; the
load comes from a separate process over N concurrent keep-alive connections (see ``_harness``).
PostgreSQL runs in a throwaway database on the local server, dropped at the end. Any answer other
than 200 is counted and printed, and fails the run (exit status 1).

Run from the repository root::

    .venv/bin/python bench/server_auth.py                  # all targets, 5 s each
    .venv/bin/python bench/server_auth.py --quick          # smoke run, 1 s each
    .venv/bin/python bench/server_auth.py --targets baseline sqlite --concurrency 16

The PostgreSQL server is taken from ``PYAIRTABLE_BENCH_POSTGRES_DSN`` (default
``postgresql://postgres@127.0.0.1:5432/test``, a database the benchmark may connect to).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import signal
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Literal, get_args

# Run as a script, this file's directory heads sys.path; the harness is imported as bench._harness.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
import httpx2
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.engine import make_url

from bench._harness import (
    BASELINE_APP,
    BASELINE_PATH,
    LoadResult,
    LoadSpec,
    clean_environment,
    run_load,
    serve,
)

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
SERVER_APP = "pyairtable_server.app:create_app"
API = "/api/v1"
WORKSPACE_COUNT = 5
PASSWORD = "bench-password-0123"
# High enough that the limiter is measured but never refuses.
UNREACHABLE_LIMIT = "10000000/minute"
DEFAULT_CONCURRENCY = 32
DEFAULT_DURATION = 5.0
QUICK_DURATION = 1.0
WARMUP_SECONDS = 1.0

console = Console()


@dataclass(frozen=True)
class Endpoint:
    """What the load generator calls: a URL and the headers to send with it."""

    url: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Measurement:
    target: Target
    result: LoadResult


@dataclass(frozen=True)
class Options:
    targets: list[Target]
    concurrency: int
    duration: float


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every chosen target in turn, print the table; 1 if any request failed."""
    options = _parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    console.print(
        f"GET {API}/workspaces ({WORKSPACE_COUNT} workspaces, bearer token) vs bare Starlette: "
        f"{options.concurrency} connections, {WARMUP_SECONDS:g} s warm-up + {options.duration:g} s"
        f" per target; {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    measurements = [_measure(target, options) for target in options.targets]
    console.print(_table(measurements))
    return _report_errors(measurements)


def _parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        description="Requests/s and p50/p99 of GET /api/v1/workspaces against bare Starlette."
    )
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
        help=f"measured seconds per target, after warm-up (default: {DEFAULT_DURATION:g})",
    )
    timing.add_argument(
        "--quick", action="store_true", help=f"smoke run: {QUICK_DURATION:g} s per target"
    )
    args = parser.parse_args(argv)
    return Options(
        targets=list(dict.fromkeys(args.targets)),
        concurrency=args.concurrency,
        duration=QUICK_DURATION if args.quick else args.duration,
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


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    """On SIGTERM, unwind as on Ctrl-C: every server is stopped and the database dropped."""
    raise KeyboardInterrupt


def _measure(target: Target, options: Options) -> Measurement:
    console.print(f"[dim]measuring {TARGET_LABELS[target]}…[/dim]")
    with _endpoint(target) as endpoint:
        spec = LoadSpec(
            url=endpoint.url,
            headers=endpoint.headers,
            concurrency=options.concurrency,
            warmup=WARMUP_SECONDS,
            duration=options.duration,
        )
        return Measurement(target, run_load(spec))


def _endpoint(target: Target) -> AbstractContextManager[Endpoint]:
    """The target's server (and database), running while the returned context is open."""
    if target == "baseline":
        return _baseline_endpoint()
    if target == "sqlite":
        return _api_endpoint(database_url=None)
    return _postgres_endpoint()


@contextmanager
def _baseline_endpoint() -> Iterator[Endpoint]:
    env = clean_environment()
    with serve(BASELINE_APP, env=env, health_path=BASELINE_PATH, factory=True) as server:
        yield Endpoint(server.base_url + BASELINE_PATH, {})


@contextmanager
def _postgres_endpoint() -> Iterator[Endpoint]:
    with _postgres_database() as url, _api_endpoint(database_url=url) as endpoint:
        yield endpoint


@contextmanager
def _api_endpoint(database_url: str | None) -> Iterator[Endpoint]:
    """The reference backend with a user owning a few workspaces; None means SQLite."""
    with tempfile.TemporaryDirectory(prefix="pyairtable-bench-") as data_dir:
        env = {**clean_environment(), **_api_settings(database_url, Path(data_dir))}
        with serve(SERVER_APP, env=env, health_path=f"{API}/health", factory=True) as server:
            token = _sign_in_with_workspaces(server.base_url + API)
            yield Endpoint(
                f"{server.base_url}{API}/workspaces", {"Authorization": f"Bearer {token}"}
            )


def _api_settings(database_url: str | None, data_dir: Path) -> dict[str, str]:
    """The server's ``PYAIRTABLE_*`` variables; Argon2 keeps its defaults (logins are not timed)."""
    settings = {
        "PYAIRTABLE_DATA_DIR": str(data_dir),
        "PYAIRTABLE_SECRET_KEY": secrets.token_urlsafe(48),
        "PYAIRTABLE_RATE_LIMIT_PER_IP": UNREACHABLE_LIMIT,
        "PYAIRTABLE_RATE_LIMIT_PER_TOKEN": UNREACHABLE_LIMIT,
        "PYAIRTABLE_LOGIN_FAILURES_PER_ACCOUNT": UNREACHABLE_LIMIT,
        "PYAIRTABLE_LOGIN_FAILURES_PER_IP": UNREACHABLE_LIMIT,
    }
    if database_url is not None:
        settings["PYAIRTABLE_DATABASE_URL"] = database_url
    return settings


@contextmanager
def _postgres_database() -> Iterator[str]:
    """A fresh, uniquely named database on the local server, dropped when the block ends."""
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


def _sign_in_with_workspaces(api_url: str) -> str:
    """Register a user, sign in, create the workspaces; return the access token.

    Raises ``RuntimeError`` when the API answers anything unexpected.
    """
    email = f"bench-{secrets.token_hex(4)}@example.com"
    user = {"email": email, "password": PASSWORD, "first_name": "Bench", "last_name": "Mark"}
    with httpx2.Client(base_url=api_url, timeout=30.0) as client:
        _expect(client.post("/auth/register", json=user), 201)
        login = client.post("/auth/login", json={"email": email, "password": PASSWORD})
        token = str(_expect(login, 200)["access_token"])
        client.headers["Authorization"] = f"Bearer {token}"
        for index in range(WORKSPACE_COUNT):
            _expect(client.post("/workspaces", json={"name": f"Workspace {index}"}), 201)
        listed = _expect(client.get("/workspaces"), 200)
    if len(listed["data"]) != WORKSPACE_COUNT:
        raise RuntimeError(f"expected {WORKSPACE_COUNT} workspaces, the API lists {listed}")
    return token


def _expect(response: httpx2.Response, status: int) -> dict[str, Any]:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url} answered "
            f"{response.status_code}, expected {status}: {response.text[:500]}"
        )
    body: dict[str, Any] = response.json()
    return body


def _table(measurements: Sequence[Measurement]) -> Table:
    baseline = next((m.result for m in measurements if m.target == "baseline"), None)
    base_rps = baseline.requests_per_second if baseline else None
    base_p50 = baseline.percentile_ms(50) if baseline else None
    table = Table(
        title=f"Authenticated GET {API}/workspaces",
        caption="baseline: bare Starlette; vs base: target ÷ baseline, measured in this run",
    )
    table.add_column("target")
    for column in ("requests", "req/s", "p50 ms", "p99 ms", "req/s\nvs base", "p50\nvs base"):
        table.add_column(column, justify="right")
    table.add_column("errors", justify="right")
    for measurement in measurements:
        result = measurement.result
        table.add_row(
            measurement.target,
            f"{len(result.latencies):,}",
            f"{result.requests_per_second:,.0f}",
            f"{result.percentile_ms(50):.2f}",
            f"{result.percentile_ms(99):.2f}",
            _ratio(result.requests_per_second, base_rps),
            _ratio(result.percentile_ms(50), base_p50),
            str(result.error_count),
        )
    return table


def _ratio(value: float, baseline: float | None) -> str:
    return "n/a" if not baseline else f"{value / baseline:#.3g}x"


def _report_errors(measurements: Sequence[Measurement]) -> int:
    """Print every target's errors; 1 (a failed benchmark) if there were any, else 0."""
    failed = [m for m in measurements if m.result.error_count]
    for measurement in failed:
        result = measurement.result
        console.print(
            f"[red]{TARGET_LABELS[measurement.target]}: {result.error_count} failed requests "
            f"{escape(str(dict(result.errors)))}[/red]"
        )
        for kind, detail in result.error_samples.items():
            console.print(f"  {kind}: {detail}", markup=False, highlight=False)
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        console.print("[red]interrupted; servers stopped[/red]")
        sys.exit(130)
    except RuntimeError as exc:
        console.print(f"[red]benchmark failed:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(1)
