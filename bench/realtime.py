"""Realtime fan-out: change → subscriber latency and deliveries/s, against a bare broadcast server.

For each target, each number of WebSocket subscribers (1, 100, 1,000) and each change rate
(100/s, 1,000/s), one "cell": the subscribers connect, sign in and subscribe to one table's
``record`` channel (contract §8: ``auth`` → ``auth_ok``, ``subscribe`` →
``subscription_confirmed``), then a producer makes changes at that rate for the cell's duration,
and every subscriber counts the changes it receives and how long each took.

- ``baseline``: a bare broadcast server on the same WebSocket library (``bench._broadcast``): the
  producer sends each change over a WebSocket, the server hands it to ``websockets.broadcast``.
  Its frames are shaped like the API's ``record.created`` event frames, about the same size.
- ``sqlite`` / ``postgres``: the reference backend (uvicorn, one worker, ``websockets-sansio``):
  each change is a ``POST /api/v1/records`` creating one record, spread over a few keep-alive
  connections; the subscribers are one user, signed in once, sharing one access token.

**Latency** is "request sent → subscriber receives": each change carries ``time.time_ns()`` taken
just before it is sent (in a text field of the record, or in the baseline's frame), and the
subscriber subtracts it from its own clock on receipt (same machine, same clock). For the API it
includes the whole write (HTTP, validation, the commit) before the fan-out. The producer paces
changes to the target rate; when the server cannot keep up, changes are sent as fast as their
answers allow and the achieved rate says so (latency is then measured from the actual send, so
the producer's own backlog is not in it).

**Deliveries/s** are the cell's frames received by all subscribers, over the time from the first
change sent to the last frame received. **Lost**: frames expected (each subscriber expects every
successful change) but not received within ``DRAIN_SECONDS`` (at most the cell's duration) of
the last change: late, or never sent. **Closed**: sockets the server closed during the cell, by
close code; 1013 is the API cutting a consumer whose outbox overflowed (it would resume from its
last ``seq``).

**Server CPU** is the server process's CPU time (user + system, from ``psutil``) from the first
change to the last frame received, per 1,000 deliveries: unlike rates and latencies it hardly moves
with what else the machine runs. **RSS** is the server's resident memory, its peak over the cell
(sampled every ``SAMPLE_SECONDS``) and before the changes began (subscribers connected).

Subscribers run in worker processes (``bench._subscribers``, at most 250 sockets each) and the
producer in this one, so that neither shares an event loop with the server; on a machine with few
CPUs they still share the CPUs, which is why every cell is set against the baseline measured in the
same run. Neither server compresses frames (``serve`` turns permessage-deflate off: per-subscriber
compression of small event frames costs more CPU than it saves).

Run from the repository root::

    .venv/bin/python bench/realtime.py                     # baseline + SQLite, 3 s per cell
    .venv/bin/python bench/realtime.py --quick             # smoke run, 1 s per cell
    .venv/bin/python bench/realtime.py --targets baseline postgres --subscribers 1 100

A write that is not answered 201, or a subscriber that cannot connect and subscribe, fails the run
(exit status 1) after the tables; lost frames and closed sockets are measurements, not failures.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import platform
import shlex
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

# Run as a script, this file's directory heads sys.path; the harness is imported as bench._harness.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httptools
import httpx2
import psutil
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from websockets.asyncio.client import connect

from bench._broadcast import PRODUCER_PATH, serve_broadcast
from bench._harness import HOST, HttpConnection
from bench._subscribers import SUBSCRIPTION_ID, Share, SubscriberPool, Tally
from bench._targets import (
    API,
    QUICK_DURATION,
    TARGETS,
    Target,
    expect,
    postgres_database,
    postgres_unavailable,
    run_script,
    serve_api,
    sign_up,
)

DEFAULT_TARGETS: tuple[Target, ...] = ("baseline", "sqlite")
DEFAULT_SUBSCRIBERS = (1, 100, 1000)
DEFAULT_RATES = (100, 1000)
DEFAULT_DURATION = 3.0
DEFAULT_WRITERS = 8
#: How long subscribers wait, after the last change, for frames still on their way (at most the
#: cell's duration, so that a smoke run stays short).
DRAIN_SECONDS = 3.0
WRITE_TIMEOUT_SECONDS = 30.0
#: A pause between cells, so that one cell's closing sockets are gone before the next opens.
SETTLE_SECONDS = 0.5
#: How often the server's CPU time and memory are sampled during a cell.
SAMPLE_SECONDS = 0.05
MAX_ERROR_KINDS = 10
PIPED_WIDTH = 190
TARGET_LABELS: dict[Target, str] = {
    "baseline": "bare websockets broadcast",
    "sqlite": "API on SQLite",
    "postgres": "API on PostgreSQL",
}
FIELDS = [{"name": "Name", "type": "text"}, {"name": "Sent", "type": "text"}]

# Rich assumes 80 columns when the output is not a terminal, too narrow for the table.
console = Console(width=None if sys.stdout.isatty() else PIPED_WIDTH)


@dataclass(frozen=True)
class Options:
    targets: list[Target]
    subscribers: list[int]
    rates: list[int]
    duration: float
    writers: int


@dataclass(frozen=True)
class Endpoint:
    """Where one target's subscribers connect, and where and how its producer writes.

    ``api_url`` is the API's base URL (``API`` included); None for the baseline, whose producer
    writes to ``ws_url`` on ``PRODUCER_PATH``. ``pid``: the server's process.
    """

    target: Target
    ws_url: str
    token: str
    table_id: str
    api_url: str | None
    pid: int


@dataclass
class Writes:
    """The changes a producer made in one cell; times are ``time.time_ns``."""

    attempted: int = 0
    succeeded: int = 0
    first_sent_ns: int = 0
    last_done_ns: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: dict[str, str] = field(default_factory=dict)

    def sent(self) -> int:
        """Count one more change; the time its request is sent."""
        now = time.time_ns()
        self.attempted += 1
        self.first_sent_ns = self.first_sent_ns or now
        return now

    def done(self) -> None:
        self.succeeded += 1
        self.last_done_ns = time.time_ns()

    def failed(self, kind: str, detail: str) -> None:
        self.errors[kind] += 1
        if kind not in self.error_samples and len(self.error_samples) < MAX_ERROR_KINDS:
            self.error_samples[kind] = detail[:300]


@dataclass(frozen=True)
class Cell:
    """One measurement: a target, a number of subscribers, a change rate, and what was seen."""

    target: Target
    subscribers: int
    rate: int
    duration: float
    writes: Writes
    tally: Tally
    p50_ms: float
    p99_ms: float
    usage: Usage

    @property
    def cpu_us_per_delivery(self) -> float:
        """The server's CPU time per frame received, in µs (NaN without frames)."""
        if not self.tally.received:
            return math.nan
        return self.usage.cpu_seconds / self.tally.received * 1e6

    @property
    def changes_per_second(self) -> float:
        """Successful changes over the cell's duration, or over the time they took if longer."""
        writes = self.writes
        took = (writes.last_done_ns - writes.first_sent_ns) / 1e9
        return writes.succeeded / max(self.duration, took) if writes.succeeded else 0.0

    @property
    def deliveries_per_second(self) -> float:
        window = (self.tally.last_received_ns - self.writes.first_sent_ns) / 1e9
        return self.tally.received / window if self.tally.received and window > 0 else 0.0

    @property
    def lost(self) -> int:
        return max(0, self.writes.succeeded * self.tally.connected - self.tally.received)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every cell of every chosen target, print one table per rate; 1 if any write or
    subscription failed."""
    options = _parse_args(argv)
    console.print(f"$ {shlex.join([os.path.relpath(sys.executable), *sys.argv])}", highlight=False)
    console.print(
        f"Realtime fan-out: {', '.join(map(str, options.subscribers))} WebSocket subscribers at "
        f"{', '.join(map(str, options.rates))} changes/s, {options.duration:g} s per cell; "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    cells: list[Cell] = []
    with SubscriberPool(max(options.subscribers)) as pool:
        for target in options.targets:
            with serve_target(target) as endpoint:
                if endpoint is None:
                    continue
                for subscribers in options.subscribers:
                    for rate in options.rates:
                        cells.append(_measure(pool, endpoint, subscribers, rate, options))
    for rate in options.rates:
        console.print(_table([c for c in cells if c.rate == rate], rate, options))
    console.print(_NOTE.format(drain=_drain_seconds(options)), highlight=False)
    return _report_failures(cells)


def _parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        description="Change → subscriber latency and deliveries/s of the API's WebSocket "
        "fan-out, against a bare websockets broadcast server."
    )
    parser.add_argument(
        "--targets",
        nargs="+",
        choices=TARGETS,
        default=list(DEFAULT_TARGETS),
        help="what to measure, in this order (default: baseline sqlite); the ratios need baseline",
    )
    parser.add_argument(
        "--subscribers",
        nargs="+",
        type=_positive_int,
        default=list(DEFAULT_SUBSCRIBERS),
        help="WebSocket subscribers per cell (default: 1 100 1000)",
    )
    parser.add_argument(
        "--rates",
        nargs="+",
        type=_positive_int,
        default=list(DEFAULT_RATES),
        help="changes per second the producer aims at (default: 100 1000)",
    )
    parser.add_argument(
        "--writers",
        type=_positive_int,
        default=DEFAULT_WRITERS,
        help=f"the API producer's keep-alive connections (default: {DEFAULT_WRITERS})",
    )
    timing = parser.add_mutually_exclusive_group()
    timing.add_argument(
        "--duration",
        type=_positive_float,
        default=DEFAULT_DURATION,
        help=f"seconds of changes per cell (default: {DEFAULT_DURATION:g})",
    )
    timing.add_argument(
        "--quick",
        action="store_const",
        dest="duration",
        const=QUICK_DURATION,
        help=f"smoke run: {QUICK_DURATION:g} s per cell",
    )
    args = parser.parse_args(argv)
    return Options(
        targets=list(dict.fromkeys(args.targets)),
        subscribers=list(dict.fromkeys(args.subscribers)),
        rates=list(dict.fromkeys(args.rates)),
        duration=args.duration,
        writers=args.writers,
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


# -- the targets ----------------------------------------------------------------------------------


def serve_target(target: Target) -> AbstractContextManager[Endpoint | None]:
    """Run the target's server until the block ends; None (said why) when it cannot run here."""
    if target == "baseline":
        return _baseline_endpoint()
    return _api_endpoint(target)


@contextmanager
def _baseline_endpoint() -> Iterator[Endpoint]:
    console.print(f"[dim]starting the {TARGET_LABELS['baseline']}…[/dim]")
    with serve_broadcast() as server:
        yield Endpoint(
            "baseline",
            server.url,
            token="bench",
            table_id=_BASELINE_TABLE,
            api_url=None,
            pid=server.pid,
        )


@contextmanager
def _api_endpoint(target: Target) -> Iterator[Endpoint | None]:
    if target == "postgres":
        reason = postgres_unavailable()
        if reason is not None:
            console.print(f"[yellow]skipping {TARGET_LABELS[target]}:[/yellow] {escape(reason)}")
            yield None
            return
        with postgres_database() as url, _serve_api(target, url) as endpoint:
            yield endpoint
    else:
        with _serve_api(target, None) as endpoint:
            yield endpoint


@contextmanager
def _serve_api(target: Target, database_url: str | None) -> Iterator[Endpoint]:
    """Serve the API, register a user and create the table every change goes to."""
    console.print(f"[dim]starting the {TARGET_LABELS[target]}…[/dim]")
    with serve_api(database_url) as server:
        api_url = server.base_url + API
        with httpx2.Client(base_url=api_url, timeout=WRITE_TIMEOUT_SECONDS) as client:
            login = sign_up(client)
            workspace = expect(client.post("/workspaces", json={"name": "Bench"}), 201)
            base = expect(
                client.post("/bases", json={"workspace_id": workspace["id"], "name": "Realtime"}),
                201,
            )
            table = expect(
                client.post(
                    "/tables", json={"base_id": base["id"], "name": "Changes", "fields": FIELDS}
                ),
                201,
            )
        ws_url = "ws" + server.base_url.removeprefix("http") + "/ws"
        yield Endpoint(target, ws_url, login["access_token"], table["id"], api_url, server.pid)


# -- one cell -------------------------------------------------------------------------------------

#: Numbers the cells of a run, so that a frame of an earlier cell is never counted in a later one.
_cell_numbers = itertools.count(1)


def _measure(
    pool: SubscriberPool, endpoint: Endpoint, subscribers: int, rate: int, options: Options
) -> Cell:
    """Connect the subscribers, make changes at ``rate`` for the duration, collect what arrived.

    Raises ``RuntimeError`` when a subscriber process fails.
    """
    marker = f"~bench{next(_cell_numbers)}~"
    console.print(
        f"[dim]{TARGET_LABELS[endpoint.target]}: {subscribers:,} subscribers, "
        f"{rate:,} changes/s…[/dim]"
    )
    share = Share(endpoint.ws_url, endpoint.token, endpoint.table_id, subscribers, marker)
    opened = pool.open(share)
    with _Sampler(endpoint.pid) as sampler:
        if opened.connected == 0:
            writes = Writes()
        else:
            writes = asyncio.run(_produce(endpoint, rate, options, marker))
        deadline = time.time_ns() + int(_drain_seconds(options) * 1e9)
        tally = pool.collect(writes.succeeded, deadline)
    time.sleep(SETTLE_SECONDS)
    p50, p99 = _percentiles_ms(tally)
    usage = sampler.usage(until_ns=tally.last_received_ns or writes.last_done_ns)
    return Cell(
        endpoint.target, subscribers, rate, options.duration, writes, tally, p50, p99, usage
    )


@dataclass(frozen=True)
class Usage:
    """The server's CPU seconds over a cell, and its resident memory (MB) before and at peak."""

    cpu_seconds: float
    rss_before_mb: float
    rss_peak_mb: float


class _Sampler:
    """Samples a process's CPU time and RSS every ``SAMPLE_SECONDS`` on a thread, while open."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self._samples: list[tuple[int, float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        with self._process.oneshot():
            times, memory = self._process.cpu_times(), self._process.memory_info()
        self._samples.append((time.time_ns(), times.user + times.system, memory.rss))

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self._sample()

    def __enter__(self) -> _Sampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def usage(self, *, until_ns: int) -> Usage:
        """CPU from the start to the first sample at or after ``until_ns`` (the last frame)."""
        start = self._samples[0]
        end = next((s for s in self._samples if s[0] >= until_ns), self._samples[-1])
        return Usage(
            cpu_seconds=end[1] - start[1],
            rss_before_mb=start[2] / 1e6,
            rss_peak_mb=max(s[2] for s in self._samples) / 1e6,
        )


def _drain_seconds(options: Options) -> float:
    return min(DRAIN_SECONDS, options.duration)


def _percentiles_ms(tally: Tally) -> tuple[float, float]:
    """The p50 and p99 latency in ms; NaN with under two latencies."""
    if len(tally.latencies_ms) < 2:
        return math.nan, math.nan
    cuts = statistics.quantiles(tally.latencies_ms, n=100, method="inclusive")
    return cuts[49], cuts[98]


class _Schedule:
    """Hands out change numbers at their due time: ``rate`` per second for ``duration`` seconds.

    A change whose time has passed (the producer fell behind) is handed out at once; none is
    handed out after ``duration``, so a server that cannot keep up makes fewer changes, not a
    longer cell.
    """

    def __init__(self, rate: int, duration: float) -> None:
        self.rate = rate
        self.total = max(1, round(rate * duration))
        self.next = 0
        self.start = time.perf_counter()
        self.end = self.start + duration

    async def take(self) -> int | None:
        """The next change's number, when it is due; None when all are handed out or time is up."""
        now = time.perf_counter()
        if self.next >= self.total or now >= self.end:
            return None
        number, self.next = self.next, self.next + 1
        delay = self.start + number / self.rate - now
        if delay > 0:
            await asyncio.sleep(delay)
        return number


async def _produce(endpoint: Endpoint, rate: int, options: Options, marker: str) -> Writes:
    writes = Writes()
    schedule = _Schedule(rate, options.duration)
    if endpoint.api_url is None:
        await _broadcast_changes(endpoint.ws_url, schedule, writes, marker)
    else:
        lanes = [_post_changes(endpoint, schedule, writes, marker) for _ in range(options.writers)]
        await asyncio.gather(*lanes)
    return writes


async def _broadcast_changes(ws_url: str, schedule: _Schedule, writes: Writes, marker: str) -> None:
    """The baseline's producer: one WebSocket to the broadcast server, one frame per change."""
    async with connect(ws_url.rstrip("/") + PRODUCER_PATH) as producer:
        while (number := await schedule.take()) is not None:
            sent = writes.sent()
            await producer.send(_baseline_frame(number, f"{marker}{sent}~"))
            writes.done()


async def _post_changes(
    endpoint: Endpoint, schedule: _Schedule, writes: Writes, marker: str
) -> None:
    """One of the API producer's connections: ``POST /records`` per change, reconnecting after a
    failure (counted in ``writes``)."""
    assert endpoint.api_url is not None
    url = urlsplit(endpoint.api_url)
    port = url.port or 80
    connection: HttpConnection | None = None
    try:
        while (number := await schedule.take()) is not None:
            sent = writes.sent()
            fields = {"Name": f"Change {number}", "Sent": f"{marker}{sent}~"}
            body = json.dumps({"table_id": endpoint.table_id, "fields": fields}).encode()
            request = _post_request(url.netloc, f"{url.path}/records", endpoint.token, body)
            try:
                async with asyncio.timeout(WRITE_TIMEOUT_SECONDS):
                    connection = connection or await HttpConnection.open(HOST, port)
                    status, answer = await connection.send(request)
            except (OSError, TimeoutError, httptools.HttpParserError) as exc:
                writes.failed(type(exc).__name__, str(exc) or repr(exc))
                if connection is not None:
                    connection.close()
                connection = None
                continue
            if status == 201:
                writes.done()
            else:
                writes.failed(f"HTTP {status}", answer.decode(errors="replace"))
    finally:
        if connection is not None:
            connection.close()


def _post_request(host: str, path: str, token: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: pyairtable-bench\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


# Made-up ids of the API's length, for the baseline's frames.
_BASELINE_TABLE = "tbl" + "B" * 16
_BASELINE_RECORD = "rec" + "R" * 16
_BASELINE_USER = "usr" + "U" * 16
_BASELINE_TIME = "2026-01-01T00:00:00.000000Z"


def _baseline_frame(number: int, sent: str) -> str:
    """The frame the API would send for change ``number`` (a ``record.created`` event frame),
    carrying ``sent``: same keys, ids of the same length, so about the same size."""
    record = {
        "id": _BASELINE_RECORD,
        "table_id": _BASELINE_TABLE,
        "fields": {"Name": f"Change {number}", "Sent": sent},
        "version": 1,
        "created_at": _BASELINE_TIME,
        "updated_at": _BASELINE_TIME,
        "created_by": _BASELINE_USER,
        "updated_by": _BASELINE_USER,
    }
    event = {
        "seq": number + 1,
        "id": "evt" + "E" * 16,
        "type": "record.created",
        "channel": "record",
        "workspace_id": "wsp" + "W" * 16,
        "base_id": "bas" + "A" * 16,
        "table_id": _BASELINE_TABLE,
        "aggregate_type": "record",
        "aggregate_id": _BASELINE_RECORD,
        "version": 1,
        "occurred_at": _BASELINE_TIME,
        "user_id": _BASELINE_USER,
        "payload": {"table_id": _BASELINE_TABLE, "record": record},
    }
    frame = {"type": "event", "subscription_id": SUBSCRIPTION_ID, "event": event}
    return json.dumps(frame, separators=(",", ":"))


# -- the report -----------------------------------------------------------------------------------

_NOTE = (
    "What is measured: latency is request sent → subscriber receives, on one clock: for the API "
    "that is the whole POST /records (HTTP, validation, commit) plus the fan-out to every "
    "WebSocket subscriber; for the baseline, a frame sent over a WebSocket and broadcast as it is. "
    "changes/s: successful changes per second (the producer aims at the table's rate and falls "
    "behind when the server does). deliveries/s: frames received by all subscribers, from the "
    "first change sent to the last frame received. lost: frames expected (every change, at every "
    "subscriber) but not received within {drain:g} s of the last change. closed: sockets the "
    "server closed during the cell, by close code (1013: too slow a consumer). CPU µs/deliv: the "
    "server process's CPU time from the first change to the last frame received, per frame "
    "received (for the API, the writes included). RSS: the server's resident memory with the "
    "subscribers connected before the changes, and its peak during the cell. vs base: the "
    "target ÷ the baseline's cell with the same subscribers and rate, measured in this run; "
    "subscribers and producer share this machine's CPUs with the server."
)


def _table(cells: Sequence[Cell], rate: int, options: Options) -> Table:
    table = Table(
        title=f"Realtime fan-out at {rate:,} changes/s ({options.duration:g} s per cell)",
        caption="baseline: bare websockets broadcast; vs base: target ÷ baseline, this run",
    )
    table.add_column("subscribers", justify="right")
    table.add_column("target")
    for column in (
        "changes/s",
        "deliveries/s",
        "p50 ms",
        "p99 ms",
        "lost",
        "closed",
        "p50\nvs base",
        "p99\nvs base",
        "deliv/s\nvs base",
        "CPU µs\n/deliv",
        "CPU\nvs base",
        "RSS MB\nidle/peak",
    ):
        table.add_column(column, justify="right")
    for subscribers in options.subscribers:
        row = [c for c in cells if c.subscribers == subscribers]
        baseline = next((c for c in row if c.target == "baseline"), None)
        for cell in row:
            table.add_row(
                f"{subscribers:,}",
                cell.target,
                f"{cell.changes_per_second:,.0f}",
                f"{cell.deliveries_per_second:,.0f}",
                f"{cell.p50_ms:.2f}",
                f"{cell.p99_ms:.2f}",
                f"{cell.lost:,}",
                _closed(cell.tally.closed),
                ratio(cell.p50_ms, baseline.p50_ms if baseline else None),
                ratio(cell.p99_ms, baseline.p99_ms if baseline else None),
                ratio(
                    cell.deliveries_per_second,
                    baseline.deliveries_per_second if baseline else None,
                ),
                f"{cell.cpu_us_per_delivery:.1f}",
                ratio(
                    cell.cpu_us_per_delivery,
                    baseline.cpu_us_per_delivery if baseline else None,
                ),
                f"{cell.usage.rss_before_mb:.0f}/{cell.usage.rss_peak_mb:.0f}",
            )
    return table


def _closed(closed: Counter[int]) -> str:
    if not closed:
        return "0"
    return ", ".join(f"{count:,} ({code})" for code, count in sorted(closed.items()))


def ratio(value: float, baseline: float | None) -> str:
    # Three significant digits, trailing zeros kept ("1.00x"), no bare point ("113x").
    if not baseline or math.isnan(baseline) or math.isnan(value):
        return "n/a"
    return f"{value / baseline:#.3g}".rstrip(".") + "x"


def _report_failures(cells: Sequence[Cell]) -> int:
    """Print failed writes and subscriptions; 1 if there were any, else 0."""
    failed = 0
    for cell in cells:
        where = f"{TARGET_LABELS[cell.target]}, {cell.subscribers:,} subscribers, {cell.rate:,}/s"
        writes, tally = cell.writes, cell.tally
        if writes.errors:
            failed += 1
            console.print(
                f"[red]{where}: {sum(writes.errors.values())} failed writes "
                f"{escape(str(dict(writes.errors)))}[/red]"
            )
            for kind, detail in writes.error_samples.items():
                console.print(f"  {kind}: {detail}", markup=False, highlight=False)
        if tally.failed:
            failed += 1
            console.print(
                f"[red]{where}: {sum(tally.failed.values())} subscribers could not subscribe "
                f"{escape(str(dict(tally.failed)))}[/red]"
            )
            console.print(f"  {tally.failure_sample}", markup=False, highlight=False)
    return 1 if failed else 0


if __name__ == "__main__":
    run_script(main, console)
