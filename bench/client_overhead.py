"""What the integration layer adds to a request, against raw httpx2 on a kept-alive connection.

Two measurements against the reference backend (uvicorn, one worker, SQLite, its own process):

- **Overhead**: the same authenticated ``GET /api/v1/workspaces/{id}``, sent one at a time,
  through ``pa.services.workspace.get_workspace`` (auth header, request id, breaker, metrics,
  answer validated into a ``Workspace``; de-duplication off so that each call is one request;
  there is no cache yet) and through a bare ``httpx2.AsyncClient`` with the same token that
  decodes the JSON (``response.json()``), which is the least a caller of raw httpx2 does.
  The two alternate in short rounds so that drift of the machine (another process, CPU
  frequency) falls on both alike; the medians and their ratio are printed, against the target
  of the issue: the layer adds under 15 %.
- **De-duplication**: 100 concurrent identical GETs through the integration with de-duplication
  on and then off, several rounds each: median wall time per burst, and the requests the
  backend received per burst (the attempts the integration sent, from its metrics).

Both clients run in this process, one after the other in the same event loop; the server is a
separate process. On a small, noisy machine the ratios are what compare between runs.

Run from the repository root::

    .venv/bin/python bench/client_overhead.py            # 2,000 requests each
    .venv/bin/python bench/client_overhead.py --quick    # smoke run, 300 requests each

A request that fails (any error) fails the run (exit status 1).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Run as a script, this file's directory heads sys.path; the harness is imported as bench._harness.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx2
from rich.console import Console
from rich.table import Table

from bench._targets import API, run_script, serve_api
from pyairtable_integration import Session, create_integration

REQUESTS = 2000
QUICK_REQUESTS = 300
ROUND_SIZE = 50  # requests per client before the other client's turn
WARMUP_REQUESTS = 100  # per client, before measuring: connections, imports, caches
BURST = 100  # concurrent identical GETs
BURST_ROUNDS = 20
QUICK_BURST_ROUNDS = 5
TARGET_OVERHEAD = 0.15
PASSWORD = "quiet-harbour-7305"

console = Console()


@dataclass(frozen=True)
class Options:
    requests: int
    burst_rounds: int


@dataclass(frozen=True)
class Burst:
    """One way of sending bursts: the wall time of each burst, backend requests per burst."""

    label: str
    seconds: list[float]
    backend_requests: float


def main(argv: Sequence[str] | None = None) -> int:
    """Run both measurements against one backend and print their tables."""
    options = _parse_args(argv)
    console.print(
        f"Client overhead: GET {API}/workspaces/{{id}}, {options.requests:,} requests per client "
        f"in rounds of {ROUND_SIZE}; bursts of {BURST} identical GETs x {options.burst_rounds}; "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    with serve_api(None) as server:
        overhead, bursts = asyncio.run(_measure(server.base_url + API, options))
    console.print(_overhead_table(overhead))
    console.print(_burst_table(bursts))
    layer, raw = (statistics.median(overhead[name].latencies) for name in ("integration", "raw"))
    added = layer / raw - 1
    cpu = overhead["integration"].cpu_per_request - overhead["raw"].cpu_per_request
    verdict = "met" if added < TARGET_OVERHEAD else "NOT met"
    console.print(
        f"The layer adds {added:+.1%} to the median request (target < {TARGET_OVERHEAD:.0%}: "
        f"{verdict}), {cpu * 1e6:,.0f} µs of client CPU per request."
    )
    return 0


def _parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        description="The integration layer's added latency against raw httpx2, and what "
        "request de-duplication saves on a burst of identical GETs."
    )
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument(
        "--requests",
        type=_positive_int,
        default=REQUESTS,
        help=f"sequential requests per client (default: {REQUESTS:,})",
    )
    sizes.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: {QUICK_REQUESTS} requests per client, {QUICK_BURST_ROUNDS} bursts",
    )
    args = parser.parse_args(argv)
    if args.quick:
        return Options(requests=QUICK_REQUESTS, burst_rounds=QUICK_BURST_ROUNDS)
    return Options(requests=args.requests, burst_rounds=BURST_ROUNDS)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


async def _measure(base_url: str, options: Options) -> tuple[dict[str, Sequential], list[Burst]]:
    layer = create_integration(base_url=base_url, deduplicate_requests=False, environ={})
    async with layer:
        email = f"bench-{secrets.token_hex(4)}@example.com"
        await layer.services.auth.register(
            email=email, password=PASSWORD, first_name="Timing", last_name="Run"
        )
        session = await layer.auth.login(email, PASSWORD)
        workspace = await layer.services.workspace.create_workspace(name="Bench")
        headers = {"Authorization": session.tokens.authorization}
        async with httpx2.AsyncClient(base_url=base_url, headers=headers, timeout=30) as raw:
            path = f"/workspaces/{workspace.id}"

            async def through_raw() -> None:
                response = await raw.get(path)
                response.raise_for_status()
                response.json()

            async def through_layer() -> None:
                await layer.services.workspace.get_workspace(workspace.id)

            overhead = await _interleaved(
                {"raw": through_raw, "integration": through_layer}, options.requests
            )
        bursts = [
            await _bursts(base_url, session, workspace.id, dedup=dedup, rounds=options.burst_rounds)
            for dedup in (True, False)
        ]
    return overhead, bursts


@dataclass
class Sequential:
    """One client's sequential requests: each latency, and this process's CPU time for them."""

    latencies: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0

    @property
    def cpu_per_request(self) -> float:
        return self.cpu_seconds / len(self.latencies)


async def _interleaved(
    clients: dict[str, Callable[[], Awaitable[None]]], requests: int
) -> dict[str, Sequential]:
    """Each client's requests, the clients taking turns of ``ROUND_SIZE`` requests."""
    for send in clients.values():
        for _ in range(WARMUP_REQUESTS):
            await send()
    found: dict[str, Sequential] = {name: Sequential() for name in clients}
    while any(len(result.latencies) < requests for result in found.values()):
        for name, send in clients.items():
            result = found[name]
            cpu_started = time.process_time()
            for _ in range(min(ROUND_SIZE, requests - len(result.latencies))):
                started = time.perf_counter()
                await send()
                result.latencies.append(time.perf_counter() - started)
            result.cpu_seconds += time.process_time() - cpu_started
    return found


async def _bursts(
    base_url: str, session: Session, workspace_id: str, *, dedup: bool, rounds: int
) -> Burst:
    """``rounds`` bursts of ``BURST`` concurrent identical GETs on a fresh integration."""
    async with create_integration(base_url=base_url, deduplicate_requests=dedup, environ={}) as pa:
        await pa.auth.set_session(session)
        await pa.services.workspace.get_workspace(workspace_id)  # a connection, warm
        sent_before = pa.get_metrics()["workspace"].requests
        seconds = []
        for _ in range(rounds):
            started = time.perf_counter()
            await asyncio.gather(
                *(pa.services.workspace.get_workspace(workspace_id) for _ in range(BURST))
            )
            seconds.append(time.perf_counter() - started)
        sent = pa.get_metrics()["workspace"].requests - sent_before
    label = "de-duplication on" if dedup else "de-duplication off"
    return Burst(label, seconds, sent / rounds)


def _overhead_table(found: dict[str, Sequential]) -> Table:
    raw = found["raw"]
    raw_median = statistics.median(raw.latencies)
    table = Table(
        title="The same GET, sequential: integration vs raw httpx2",
        caption=(
            "raw httpx2: response.json(); integration: a validated Workspace. vs raw: ÷ raw "
            "httpx2's figure, this run, interleaved. client CPU µs: this process's CPU time per "
            "request (the server runs in another process)"
        ),
    )
    columns = ("client", "requests", "p50 ms", "p90 ms", "p99 ms", "p50\nvs raw")
    for column in (*columns, "client\nCPU µs", "CPU\nvs raw"):
        table.add_column(column, justify="left" if column == "client" else "right")
    labels = {"raw": "raw httpx2", "integration": "integration"}
    for name in ("raw", "integration"):
        result = found[name]
        cuts = statistics.quantiles(result.latencies, n=100, method="inclusive")
        median = statistics.median(result.latencies)
        table.add_row(
            labels[name],
            f"{len(result.latencies):,}",
            f"{median * 1000:.3f}",
            f"{cuts[89] * 1000:.3f}",
            f"{cuts[98] * 1000:.3f}",
            f"{median / raw_median:.3f}x",
            f"{result.cpu_per_request * 1e6:,.0f}",
            f"{result.cpu_per_request / raw.cpu_per_request:.2f}x",
        )
    return table


def _burst_table(bursts: list[Burst]) -> Table:
    base = statistics.median(bursts[-1].seconds)
    table = Table(
        title=f"{BURST} concurrent identical GETs through the integration",
        caption="vs off: median burst time ÷ that with de-duplication off, measured in this run",
    )
    for column in ("", "bursts", "backend requests\nper burst", "median ms", "vs off"):
        table.add_column(column, justify="left" if not column else "right")
    for burst in bursts:
        median = statistics.median(burst.seconds)
        table.add_row(
            burst.label,
            str(len(burst.seconds)),
            f"{burst.backend_requests:g}",
            f"{median * 1000:.1f}",
            f"{median / base:.3f}x",
        )
    return table


if __name__ == "__main__":
    run_script(main, console)
