"""The stateful parts of the client layer, measured against the reference backend in one run.

Each ``measure_*`` is independent (its own integration and user on the same backend) and adds
rows to one table:

- ``measure_cache``: median per call of a cached read against the same read sent to the
  backend (``get_records`` of a 100-record table, ``get_record``), ratio network ÷ cached; and
  the memory 10,000 records fetched through the cache keep allocated, per record and in all
  (``bench/_cache.py``).

- ``measure_outbox``: outbox replay throughput, N queued creates replayed by
  ``pa.offline.sync()`` against the same N creates sent directly (ratio), and how fast entries
  are recorded (``bench/_outbox.py``).

- ``measure_realtime_latency``: write-to-callback latency p50/p99 of
  ``pa.realtime.subscribe_to_record_changes`` against a raw ``websockets`` client subscribed to
  the same table in the same run (``bench/_realtime_client.py``).

The backend is a real uvicorn process on SQLite (``bench/_targets.serve_api``).

Run from the repository root::

    .venv/bin/python bench/client_cache_realtime.py            # N = 500
    .venv/bin/python bench/client_cache_realtime.py --quick    # smoke run, N = 50

The 10,000 cached records are measured in both runs (the quick run times fewer reads).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path

# Run as a script, this file's directory heads sys.path; the harness is imported as bench._*.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.table import Table

from bench._cache import measure_cache
from bench._outbox import measure_outbox
from bench._realtime_client import measure_realtime_latency
from bench._targets import API, run_script, serve_api

CACHE_READS = 500
QUICK_CACHE_READS = 50
CACHED_RECORDS = 10_000
OUTBOX_ENTRIES = 500
QUICK_OUTBOX_ENTRIES = 50
REALTIME_EVENTS = 300
QUICK_REALTIME_EVENTS = 30

console = Console()


def main(argv: Sequence[str] | None = None) -> int:
    """Run every measurement against one backend and print the table."""
    parser = argparse.ArgumentParser(
        description="The client layer's cache, realtime and outbox, against the backend."
    )
    parser.add_argument("--quick", action="store_true", help="smoke run with small sizes")
    args = parser.parse_args(argv)
    entries = QUICK_OUTBOX_ENTRIES if args.quick else OUTBOX_ENTRIES
    console.print(
        f"Client cache, realtime and outbox; {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    table = Table(title="Client layer: stateful parts", caption="ratio: measured ÷ its baseline")
    for column in ("measurement", "value", "baseline", "ratio"):
        table.add_column(column, justify="left" if column == "measurement" else "right")
    with serve_api(None) as server:
        cache = asyncio.run(
            measure_cache(
                server.base_url + API,
                calls=QUICK_CACHE_READS if args.quick else CACHE_READS,
                records=CACHED_RECORDS,
            )
        )
        outbox = asyncio.run(measure_outbox(server.base_url + API, entries=entries))
        latency = asyncio.run(
            measure_realtime_latency(
                server.base_url + API,
                events=QUICK_REALTIME_EVENTS if args.quick else REALTIME_EVENTS,
            )
        )
    for read in cache.reads:
        table.add_row(
            f"cached {read.name}, median of {read.calls} (µs)",
            f"{read.cached * 1e6:,.1f}",
            f"{read.network * 1e6:,.0f} network",
            f"1/{read.speedup:,.0f}",
        )
    table.add_row(
        f"memory, {cache.memory.records:,} cached records (bytes/record)",
        f"{cache.memory.bytes_per_record:,.0f}",
        f"{cache.memory.mebibytes:.1f} MiB in all",
        "",
    )
    table.add_row(
        f"outbox replay, {outbox.entries} creates (entries/s)",
        f"{outbox.replay_per_second:,.0f}",
        f"{outbox.direct_per_second:,.0f} direct",
        f"{outbox.replay_ratio:.2f}x",
    )
    table.add_row(
        f"outbox enqueue, {outbox.entries} creates (entries/s)",
        f"{outbox.enqueue_per_second:,.0f}",
        "",
        "",
    )
    for name, sdk, raw in (
        ("p50", latency.sdk_p50, latency.raw_p50),
        ("p99", latency.sdk_p99, latency.raw_p99),
    ):
        table.add_row(
            f"realtime write → callback {name}, {latency.events} events (ms)",
            f"{sdk:.2f}",
            f"{raw:.2f} raw WebSocket",
            f"{sdk / raw:.2f}x",
        )
    console.print(table)
    return 0


if __name__ == "__main__":
    run_script(main, console)
