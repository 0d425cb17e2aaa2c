"""Where a live update's time goes: write start → commit → dispatch → send → subscriber, per step.

The API runs with its realtime path timed (``bench._realtime_trace``); one WebSocket subscriber
listens to a table's ``record`` channel while ``--rate`` records per second are created (each on
time, whatever the previous one's answer time, as ``bench/vs_pocketbase.py`` does) for
``--seconds``. For every event, on one clock (``time.time_ns``, same machine):

- **write**: the create request sent → its events taken by the hub (right after its commit);
- **to dispatch**: taken → dispatched (waits only for earlier ``seq`` not yet taken);
- **to send**: dispatched → its frame built for the socket (the hub to the socket's send);
- **to receive**: frame built → the subscriber has it (the kernel, and the subscriber's loop);
- **total**: write start → the subscriber has it (what ``vs_pocketbase.py`` reports).

The steps after the write are the realtime path's own; the write is the write path's, and
under a rate the server cannot keep up with, its queue dominates the total.

Run from the repository root::

    .venv/bin/python bench/realtime_latency.py                 # 100 writes/s for 5 s, SQLite
    .venv/bin/python bench/realtime_latency.py --rate 50 --seconds 10 --postgres
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import shlex
import signal
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx2
from rich.console import Console
from rich.table import Table
from websockets.asyncio.client import connect

from bench._realtime_trace import STEPS, TRACE_FILE_VARIABLE
from bench._targets import (
    API,
    expect,
    postgres_database,
    postgres_unavailable,
    run_script,
    serve_api,
    sign_up,
)

DEFAULT_RATE = 100
DEFAULT_SECONDS = 5.0
#: How long the subscriber may still receive after the last write was answered.
DRAIN_SECONDS = 5.0
TIMEOUT_SECONDS = 60.0
#: How often the subscriber looks up from its socket to see whether the run is over.
LISTEN_POLL_SECONDS = 0.2
FIELDS = [{"name": "Name", "type": "text"}]
STAGES = ("write", "to dispatch", "to send", "to receive", "total")

console = Console(width=None if sys.stdout.isatty() else 120)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print the table of steps; 1 when a write failed or an event never arrived."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rate", type=int, default=DEFAULT_RATE, help="writes per second")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS)
    parser.add_argument("--postgres", action="store_true", help="on PostgreSQL, not SQLite")
    args = parser.parse_args(argv)
    console.print(f"$ {shlex.join([os.path.relpath(sys.executable), *sys.argv])}", highlight=False)
    if args.postgres and (reason := postgres_unavailable()) is not None:
        console.print(f"[red]PostgreSQL unavailable: {reason}[/red]")
        return 1
    with tempfile.TemporaryDirectory(prefix="pyairtable-trace-") as folder:
        trace = Path(folder) / "trace.txt"
        trace.touch()
        if args.postgres:
            with postgres_database() as url:
                stages, missing = _measure(url, trace, args.rate, args.seconds)
        else:
            stages, missing = _measure(None, trace, args.rate, args.seconds)
    console.print(
        _table(stages, args.rate, args.seconds, "PostgreSQL" if args.postgres else "SQLite")
    )
    if missing:
        console.print(f"[red]{missing} events were not delivered or not traced[/red]")
    return 1 if missing else 0


def _measure(
    database_url: str | None, trace: Path, rate: int, seconds: float
) -> tuple[dict[str, list[float]], int]:
    app = "bench._realtime_trace:create_app"
    with serve_api(database_url, app=app, env={TRACE_FILE_VARIABLE: str(trace)}) as server:
        api_url = server.base_url + API
        with httpx2.Client(base_url=api_url, timeout=TIMEOUT_SECONDS) as client:
            login = sign_up(client)
            workspace = expect(client.post("/workspaces", json={"name": "Trace"}), 201)
            base = expect(
                client.post("/bases", json={"workspace_id": workspace["id"], "name": "Trace"}), 201
            )
            table = expect(
                client.post(
                    "/tables", json={"base_id": base["id"], "name": "Trace", "fields": FIELDS}
                ),
                201,
            )
        ws_url = "ws" + server.base_url.removeprefix("http") + "/ws"
        started, received = asyncio.run(
            _run(api_url, ws_url, login["access_token"], table["id"], rate, seconds)
        )
    steps = _read_trace(trace)
    stages: dict[str, list[float]] = {stage: [] for stage in STAGES}
    missing = 0
    for seq, (name, got) in received.items():
        times = steps.get(seq, {})
        if name not in started or not all(step in times for step in STEPS):
            missing += 1
            continue
        marks = [started[name], *(times[step] for step in STEPS), got]
        for stage, before, after in zip(STAGES[:-1], marks[:-1], marks[1:], strict=True):
            stages[stage].append((after - before) / 1e6)
        stages["total"].append((got - started[name]) / 1e6)
    missing += len(started) - len(received)
    return stages, missing


async def _run(
    api_url: str, ws_url: str, token: str, table_id: str, rate: int, seconds: float
) -> tuple[dict[str, int], dict[int, tuple[str, int]]]:
    """Write ``rate``/s for ``seconds`` while one subscriber listens (in its own process, so that
    the writes' answers do not delay its reading); when each write started (by record name) and
    when each event arrived (by seq: name, time)."""
    started: dict[str, int] = {}
    total = max(1, round(rate * seconds))
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    listener = context.Process(
        target=_listener, args=(theirs, ws_url, token, table_id), daemon=True
    )
    listener.start()
    theirs.close()
    try:
        if not await asyncio.to_thread(ours.poll, TIMEOUT_SECONDS) or ours.recv() != "ready":
            raise RuntimeError("the subscriber did not subscribe in time")
        headers = {"Authorization": f"Bearer {token}"}
        limits = httpx2.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx2.AsyncClient(
            base_url=api_url, headers=headers, timeout=TIMEOUT_SECONDS, limits=limits
        ) as client:

            async def write(name: str) -> None:
                started[name] = time.time_ns()
                body = {"table_id": table_id, "fields": {"Name": name}}
                expect(await client.post("/records", json=body), 201)

            writes = []
            origin = time.perf_counter()
            for number in range(total):
                delay = origin + number / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                writes.append(asyncio.create_task(write(f"trace-{number}")))
            await asyncio.gather(*writes)
        ours.send(total)
        if not await asyncio.to_thread(ours.poll, DRAIN_SECONDS + TIMEOUT_SECONDS):
            raise RuntimeError("the subscriber did not report")
        received: dict[int, tuple[str, int]] = ours.recv()
    finally:
        ours.close()
        await asyncio.to_thread(listener.join, TIMEOUT_SECONDS)
        if listener.is_alive():
            listener.kill()
    return started, received


def _listener(pipe: Connection, ws_url: str, token: str, table_id: str) -> None:
    """The subscriber's process: says "ready" once subscribed; told how many events to expect,
    sends back when each arrived (by seq: record name, time), after ``DRAIN_SECONDS`` at most."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    asyncio.run(_listen(pipe, ws_url, token, table_id))


async def _listen(pipe: Connection, ws_url: str, token: str, table_id: str) -> None:
    received: dict[int, tuple[str, int]] = {}
    async with connect(ws_url, max_size=None, compression=None) as socket:
        await socket.send(json.dumps({"type": "auth", "token": token}))
        subscribe = {
            "type": "subscribe",
            "subscription_id": "trace",
            "channel": "record",
            "filters": {"table_id": table_id},
        }
        await socket.send(json.dumps(subscribe))
        while json.loads(await socket.recv())["type"] != "subscription_confirmed":
            pass
        pipe.send("ready")
        expected: int | None = None
        deadline = math.inf
        while expected is None or (len(received) < expected and time.monotonic() < deadline):
            try:
                frame = await asyncio.wait_for(socket.recv(), LISTEN_POLL_SECONDS)
            except TimeoutError:
                frame = None
            if frame is not None:
                now = time.time_ns()
                message = json.loads(frame)
                if message["type"] == "event":
                    event = message["event"]
                    received[event["seq"]] = (event["payload"]["record"]["fields"]["Name"], now)
            if expected is None and pipe.poll():
                expected = pipe.recv()
                deadline = time.monotonic() + DRAIN_SECONDS
    pipe.send(received)


def _read_trace(trace: Path) -> dict[int, dict[str, int]]:
    """The first time of each step of each seq."""
    steps: defaultdict[int, dict[str, int]] = defaultdict(dict)
    for line in trace.read_text().splitlines():
        step, seq, at = line.split()
        steps[int(seq)].setdefault(step, int(at))
    return steps


def _table(stages: dict[str, list[float]], rate: int, seconds: float, database: str) -> Table:
    table = Table(
        title=f"A live update's time by step, {rate} writes/s for {seconds:g} s, one subscriber, "
        f"{database}",
        caption="ms, on one clock; write: request sent → hub has its events (after commit)",
    )
    table.add_column("step")
    for column in ("p50 ms", "p90 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="right")
    for stage in STAGES:
        values = stages[stage]
        if len(values) < 2:
            table.add_row(stage, *(["n/a"] * 4))
            continue
        cuts = statistics.quantiles(values, n=100, method="inclusive")
        table.add_row(stage, *(f"{v:.2f}" for v in (cuts[49], cuts[89], cuts[98], max(values))))
    return table


if __name__ == "__main__":
    run_script(main, console)
