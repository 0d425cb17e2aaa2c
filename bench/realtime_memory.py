"""Server memory with idle realtime subscribers: resident memory at 1,000 and 10,000 WebSockets.

For each target and each number of subscribers, the subscribers connect, sign in and subscribe to
one table's ``record`` channel (contract §8, as in ``bench/realtime.py``), then stay idle for
``IDLE_SECONDS`` while the server's resident memory (RSS) is sampled; then they close, and the next
number starts from an empty server. Printed: the server's RSS before any subscriber, with them
all connected (the highest sample), and the difference per subscriber, against the bare
``websockets`` broadcast server (``bench._broadcast``) measured in the same run.

The subscribers run in worker processes on this machine and connect over loopback only. Every
process needs a file descriptor per socket, so this script raises its own open-files limit to
the hard limit (the workers and the servers it starts inherit it) and refuses to run a count the
limit cannot hold. The API's realtime caps (10,000 connections in all, 1,000 per address, 100
per user) are lifted through its settings (``PYAIRTABLE_REALTIME_MAX_CONNECTIONS*``), as in every
benchmark; the defaults stay as they are.

Run from the repository root::

    .venv/bin/python bench/realtime_memory.py                      # baseline + SQLite, 1k and 10k
    .venv/bin/python bench/realtime_memory.py --subscribers 1000   # quicker
    .venv/bin/python bench/realtime_memory.py --targets baseline postgres

Each count is bounded in time (connecting: ``CONNECT_TIMEOUT_SECONDS`` per socket, 50 at a time
per worker; idle: ``IDLE_SECONDS``). Subscribers that could not connect are reported and fail the
run (exit status 1) after the table.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench._subscribers import Share, SubscriberPool, Tally
from bench._targets import TARGETS, Target, run_script
from bench.realtime import TARGET_LABELS, ratio, serve_target

DEFAULT_TARGETS: tuple[Target, ...] = ("baseline", "sqlite")
DEFAULT_SUBSCRIBERS = (1000, 10_000)
#: Sockets per subscriber process: few processes, so that they cost the machine little memory.
PER_PROCESS = 2500
#: How long the connected subscribers stay idle while the server's memory is sampled.
IDLE_SECONDS = 3.0
SAMPLE_SECONDS = 0.25
#: Time for closed sockets to be gone before the next count.
SETTLE_SECONDS = 2.0
#: File descriptors a process needs besides its sockets (libraries, pipes, the database).
SPARE_DESCRIPTORS = 512
PIPED_WIDTH = 140

console = Console(width=None if sys.stdout.isatty() else PIPED_WIDTH)


@dataclass(frozen=True)
class Row:
    """One target at one number of subscribers."""

    target: Target
    subscribers: int
    tally: Tally
    connect_seconds: float
    rss_empty_mb: float
    rss_connected_mb: float

    @property
    def kb_per_subscriber(self) -> float:
        if not self.tally.connected:
            return float("nan")
        return (self.rss_connected_mb - self.rss_empty_mb) * 1000 / self.tally.connected


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every target at every count, print the table; 1 if any subscriber failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=list(DEFAULT_TARGETS))
    parser.add_argument("--subscribers", nargs="+", type=int, default=list(DEFAULT_SUBSCRIBERS))
    args = parser.parse_args(argv)
    counts: list[int] = sorted(set(args.subscribers))
    console.print(f"$ {shlex.join([os.path.relpath(sys.executable), *sys.argv])}", highlight=False)
    limit = _raise_open_files_limit()
    if max(counts) + SPARE_DESCRIPTORS > limit:
        console.print(f"[red]{max(counts):,} sockets need more than the {limit:,} open files[/red]")
        return 1
    console.print(
        f"Idle realtime subscribers: {', '.join(f'{n:,}' for n in counts)} WebSockets, "
        f"{IDLE_SECONDS:g} s idle each; {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    rows: list[Row] = []
    with SubscriberPool(max(counts), per_process=PER_PROCESS) as pool:
        for target in dict.fromkeys(args.targets):
            with serve_target(target) as endpoint:
                if endpoint is None:
                    continue
                process = psutil.Process(endpoint.pid)
                for count in counts:
                    console.print(f"[dim]{TARGET_LABELS[target]}: {count:,} subscribers…[/dim]")
                    empty = _rss_mb(process)
                    started = time.monotonic()
                    share = Share(endpoint.ws_url, endpoint.token, endpoint.table_id, count, "~")
                    opened = pool.open(share)
                    took = time.monotonic() - started
                    connected = _peak_rss_mb(process, IDLE_SECONDS)
                    pool.collect(0, time.time_ns())
                    rows.append(Row(target, count, opened, took, empty, connected))
                    time.sleep(SETTLE_SECONDS)
    console.print(_table(rows))
    return _report_failures(rows)


def _raise_open_files_limit() -> int:
    """Raise this process's soft open-files limit to the hard one; the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


def _rss_mb(process: psutil.Process) -> float:
    return float(process.memory_info().rss) / 1e6


def _peak_rss_mb(process: psutil.Process, seconds: float) -> float:
    """The highest RSS sampled over ``seconds``."""
    peak = _rss_mb(process)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(SAMPLE_SECONDS)
        peak = max(peak, _rss_mb(process))
    return peak


def _table(rows: Sequence[Row]) -> Table:
    table = Table(
        title=f"Server memory with idle WebSocket subscribers ({IDLE_SECONDS:g} s idle)",
        caption="RSS of the server process; KB/sub: (connected - empty) ÷ subscribers connected; "
        "vs base: ÷ the bare websockets broadcast server, this run",
    )
    for column in ("subscribers", "target"):
        table.add_column(column, justify="right" if column == "subscribers" else "left")
    for column in (
        "connected",
        "connect s",
        "RSS empty MB",
        "RSS connected MB",
        "KB/sub",
        "KB/sub\nvs base",
    ):
        table.add_column(column, justify="right")
    for row in rows:
        baseline = next(
            (r for r in rows if r.target == "baseline" and r.subscribers == row.subscribers), None
        )
        table.add_row(
            f"{row.subscribers:,}",
            row.target,
            f"{row.tally.connected:,}",
            f"{row.connect_seconds:.1f}",
            f"{row.rss_empty_mb:.0f}",
            f"{row.rss_connected_mb:.0f}",
            f"{row.kb_per_subscriber:.1f}",
            ratio(row.kb_per_subscriber, baseline.kb_per_subscriber if baseline else None),
        )
    return table


def _report_failures(rows: Sequence[Row]) -> int:
    failed = [row for row in rows if row.tally.failed]
    for row in failed:
        console.print(
            f"[red]{TARGET_LABELS[row.target]}, {row.subscribers:,}: "
            f"{sum(row.tally.failed.values()):,} subscribers could not subscribe "
            f"{escape(str(dict(row.tally.failed)))}[/red]"
        )
        console.print(f"  {row.tally.failure_sample}", markup=False, highlight=False)
    return 1 if failed else 0


if __name__ == "__main__":
    run_script(main, console)
