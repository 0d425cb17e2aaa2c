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
import os
import platform
import sys
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

# Run as a script, this file's directory heads sys.path; the harness is imported as bench._harness.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx2
from rich.console import Console
from rich.table import Table

from bench._harness import LoadResult, LoadSpec, run_load
from bench._targets import (
    API,
    BASELINE_CAPTION,
    TARGET_LABELS,
    WARMUP_SECONDS,
    Target,
    add_arguments,
    add_load_columns,
    expect,
    load_cells,
    postgres_database,
    print_errors,
    run_script,
    serve_api,
    serve_baseline,
    sign_up,
)

WORKSPACE_COUNT = 5

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
    add_arguments(parser, per="target")
    args = parser.parse_args(argv)
    return Options(
        targets=list(dict.fromkeys(args.targets)),
        concurrency=args.concurrency,
        duration=args.duration,
    )


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
    with serve_baseline() as url:
        yield Endpoint(url, {})


@contextmanager
def _postgres_endpoint() -> Iterator[Endpoint]:
    with postgres_database() as url, _api_endpoint(database_url=url) as endpoint:
        yield endpoint


@contextmanager
def _api_endpoint(database_url: str | None) -> Iterator[Endpoint]:
    """The reference backend with a user owning a few workspaces; None means SQLite."""
    with serve_api(database_url) as server:
        token = _sign_in_with_workspaces(server.base_url + API)
        yield Endpoint(f"{server.base_url}{API}/workspaces", {"Authorization": f"Bearer {token}"})


def _sign_in_with_workspaces(api_url: str) -> str:
    """Register a user, sign in, create the workspaces; return the access token.

    Raises ``RuntimeError`` when the API answers anything unexpected.
    """
    with httpx2.Client(base_url=api_url, timeout=30.0) as client:
        token = str(sign_up(client)["access_token"])
        for index in range(WORKSPACE_COUNT):
            expect(client.post("/workspaces", json={"name": f"Workspace {index}"}), 201)
        listed = expect(client.get("/workspaces"), 200)
    if len(listed["data"]) != WORKSPACE_COUNT:
        raise RuntimeError(f"expected {WORKSPACE_COUNT} workspaces, the API lists {listed}")
    return token


def _table(measurements: Sequence[Measurement]) -> Table:
    baseline = next((m.result for m in measurements if m.target == "baseline"), None)
    table = Table(title=f"Authenticated GET {API}/workspaces", caption=BASELINE_CAPTION)
    table.add_column("target")
    add_load_columns(table)
    for measurement in measurements:
        table.add_row(measurement.target, *load_cells(measurement.result, baseline))
    return table


def _report_errors(measurements: Sequence[Measurement]) -> int:
    """Print every target's errors; 1 (a failed benchmark) if there were any, else 0."""
    failed = [m for m in measurements if m.result.error_count]
    for measurement in failed:
        print_errors(console, TARGET_LABELS[measurement.target], measurement.result)
    return 1 if failed else 0


if __name__ == "__main__":
    run_script(main, console)
