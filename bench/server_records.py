"""Throughput and latency of the records API on a 100,000-record table, against bare Starlette.

For each database (SQLite, then PostgreSQL) the reference backend gets a table ``Tasks`` with the
fields Name (text), Status (select: Todo, Doing, Done), Score (number, precision 1) and Done
(checkbox), holding 100,000 records, and these scenarios run in turn, each with a bearer token:

- ``list``: ``GET /records?table_id=…&page_size=100``, the unfiltered first page;
- ``filter+sort``: the first 100 records of ``Status equals "Doing" AND Score greater_than 50``
  sorted by ``Score desc`` (about a sixth of the table matches; the page also counts them all);
- ``create``: ``POST /records``, one record per request;
- ``batch``: ``POST /records/batch``, 100 records per request;
- ``update``: ``PATCH /records/{id}`` of Score, rotating over 1,000 records spread over the
  table (no hot row); each visit writes another value than the last, so every request changes
  its record (a version, an event and an audit entry), never a no-op.

Reads run first, on exactly the prepared table; the writes then grow it. The same run measures a
bare Starlette app answering a small JSON body, and reports each scenario's req/s and p50 as
ratios of that baseline: on a small, noisy machine the ratios are what compare between runs.

Before its load, each scenario sends 5 of its requests one at a time (checking the answers); their
median is the "alone" latency. A scenario whose requests, queued at every connection, would take
longer than the warm-up or the window (the filtered listing, which scans the table) gets a warm-up
of at least connections times alone and a window of at least twice that, so that it still measures a
steady state rather than nothing.

Setup: the first 100 records go through ``POST /records/batch`` and the API's answer is checked
against what this script computes; the rest are bulk-inserted with SQLAlchemy core in the very
form the API writes (values in the stored form of ``fieldtypes.validate_value``, keyed by field
id; autonumber 1..N; version 1; the table's ``record_count`` and ``next_autonumber`` moved on),
because 100,000 records through the API take minutes. What the bulk insert leaves out is what
the API writes beside the rows: a ``record.created`` event per record and an audit entry per
batch. On PostgreSQL the table is then ANALYZEd, as autovacuum would soon do.

Every server is its own uvicorn process (one worker, no access log) on a free 127.0.0.1 port; the
load comes from a separate process over N concurrent keep-alive connections (see ``_harness``).
PostgreSQL runs in a throwaway database on the local server, dropped at the end, and is skipped
with the reason when it is not reachable. Any answer other than the expected status is counted
and printed, and fails the run (exit status 1).

Run from the repository root::

    .venv/bin/python bench/server_records.py                       # all targets, 5 s each
    .venv/bin/python bench/server_records.py --quick --records 5000  # smoke run
    .venv/bin/python bench/server_records.py --targets baseline sqlite --concurrency 16

The PostgreSQL server is taken from ``PYAIRTABLE_BENCH_POSTGRES_DSN`` (default
``postgresql://postgres@127.0.0.1:5432/test``, a database the benchmark may connect to).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlencode, urlsplit

# Run as a script, this file's directory heads sys.path; the harness is imported as bench._harness.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx2
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import insert, text, update
from sqlalchemy.ext.asyncio import create_async_engine

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
    postgres_unavailable,
    print_errors,
    run_script,
    serve_api,
    serve_baseline,
    sign_up,
)
from pyairtable_server.clock import utcnow
from pyairtable_server.db.models import DataRecord, DataTable
from pyairtable_server.fieldtypes import FieldType, validate_value
from pyairtable_server.ids import new_id
from pyairtable_server.settings import Settings

Scenario = Literal["list", "filter+sort", "create", "batch", "update"]
SCENARIOS: tuple[Scenario, ...] = get_args(Scenario)
DEFAULT_RECORDS = 100_000
# Slow scenarios (a full scan per request, 32 deep) must not count as timeouts.
REQUEST_TIMEOUT_SECONDS = 60.0
ALONE_REQUESTS = 5
# A slow scenario's window spans this many times its latency with every connection queued.
QUEUE_WINDOWS = 2
PAGE_SIZE = 100
BATCH_SIZE = 100
UPDATED_RECORDS = 1_000
INSERT_CHUNK = 5_000
RANDOM_SEED = 100_000
STATUSES = ("Todo", "Doing", "Done")
FIELDS: list[dict[str, Any]] = [
    {"name": "Name", "type": "text"},
    {"name": "Status", "type": "select", "options": {"choices": list(STATUSES)}},
    {"name": "Score", "type": "number", "options": {"precision": 1}},
    {"name": "Done", "type": "checkbox"},
]
FILTER = {
    "conjunction": "and",
    "conditions": [
        {"field": "Status", "operator": "equals", "value": "Doing"},
        {"field": "Score", "operator": "greater_than", "value": 50},
    ],
}
SORT = [{"field": "Score", "direction": "desc"}]
# Scores the generator never makes, so that each update changes its record.
UPDATE_SCORES = (-1.5, -2.5)
PIPED_WIDTH = 160
NEW_RECORD = {"Name": "New task", "Status": "Todo", "Score": 42.5, "Done": False}

# Rich assumes 80 columns when the output is not a terminal, too narrow for the table.
console = Console(width=None if sys.stdout.isatty() else PIPED_WIDTH)


@dataclass(frozen=True)
class Prepared:
    """A running server with the benchmark table, and what the scenarios need to call it."""

    base_url: str
    token: str
    table_id: str
    updated_ids: tuple[str, ...]


@dataclass(frozen=True)
class Measurement:
    """One scenario's load result; ``alone``: its median latency (s) with no other request."""

    target: Target
    scenario: Scenario | None
    result: LoadResult
    alone: float | None
    window: float


@dataclass(frozen=True)
class Options:
    targets: list[Target]
    concurrency: int
    duration: float
    records: int


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every chosen target in turn, print the table; 1 if any request failed."""
    options = _parse_args(argv)
    console.print(
        f"Records API on a {options.records:,}-record table vs bare Starlette: "
        f"{options.concurrency} connections, {WARMUP_SECONDS:g} s warm-up + {options.duration:g} s"
        f" per scenario (more for slow ones); {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}"
    )
    measurements: list[Measurement] = []
    for target in options.targets:
        measurements += _measure(target, options)
    console.print(_table(measurements, options))
    return _report_errors(measurements)


def _parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        description="Requests/s and p50/p99 of the records API against bare Starlette."
    )
    add_arguments(parser, per="scenario")
    parser.add_argument(
        "--records",
        type=_at_least_batch,
        default=DEFAULT_RECORDS,
        help=f"records in the table before the writes (default: {DEFAULT_RECORDS:,})",
    )
    args = parser.parse_args(argv)
    return Options(
        targets=list(dict.fromkeys(args.targets)),
        concurrency=args.concurrency,
        duration=args.duration,
        records=args.records,
    )


def _at_least_batch(text: str) -> int:
    value = int(text)
    if value < BATCH_SIZE:
        raise argparse.ArgumentTypeError(f"must be at least {BATCH_SIZE}")
    return value


def _measure(target: Target, options: Options) -> list[Measurement]:
    if target == "baseline":
        console.print(f"[dim]measuring {TARGET_LABELS[target]}…[/dim]")
        with serve_baseline() as url:
            spec = _spec(options, url)
            return [Measurement(target, None, run_load(spec), None, spec.duration)]
    if target == "postgres":
        reason = postgres_unavailable()
        if reason is not None:
            console.print(f"[yellow]skipping {TARGET_LABELS[target]}:[/yellow] {escape(reason)}")
            return []
        with postgres_database() as url:
            return _measure_api(target, url, options)
    return _measure_api(target, None, options)


def _measure_api(target: Target, database_url: str | None, options: Options) -> list[Measurement]:
    """Prepare the table on this database, then run every scenario against it in turn."""
    with serve_api(database_url) as server:
        console.print(f"[dim]{TARGET_LABELS[target]}: preparing {options.records:,} records…")
        started = time.perf_counter()
        settings = Settings(database_url=database_url, data_dir=server.data_dir)
        prepared = _prepare(server.base_url, settings, options.records)
        console.print(f"[dim]  ready in {time.perf_counter() - started:.1f} s[/dim]")
        measurements = []
        for scenario in SCENARIOS:
            spec = _scenario_spec(scenario, prepared, options)
            alone = _alone_seconds(spec)
            spec = _fit_window(spec, alone)
            console.print(
                f"[dim]measuring {TARGET_LABELS[target]}: {scenario} (alone "
                f"{alone * 1000:.0f} ms; {spec.warmup:g} s warm-up + {spec.duration:g} s)…"
            )
            result = run_load(spec)
            measurements.append(Measurement(target, scenario, result, alone, spec.duration))
        return measurements


def _spec(options: Options, url: str, **request: Any) -> LoadSpec:
    return LoadSpec(
        url=url,
        concurrency=options.concurrency,
        warmup=WARMUP_SECONDS,
        duration=options.duration,
        timeout=REQUEST_TIMEOUT_SECONDS,
        **request,
    )


def _scenario_spec(scenario: Scenario, prepared: Prepared, options: Options) -> LoadSpec:
    """The load of one scenario: its method, path(s), body(ies) and expected status."""
    api = prepared.base_url + API
    headers = {"Authorization": f"Bearer {prepared.token}"}
    table_id = prepared.table_id
    if scenario == "list":
        query = urlencode({"table_id": table_id, "page_size": PAGE_SIZE})
        return _spec(options, f"{api}/records?{query}", headers=headers)
    if scenario == "filter+sort":
        query = urlencode(
            {
                "table_id": table_id,
                "page_size": PAGE_SIZE,
                "filter": json.dumps(FILTER),
                "sort": json.dumps(SORT),
            }
        )
        return _spec(options, f"{api}/records?{query}", headers=headers)
    if scenario == "create":
        body = _json_bytes({"table_id": table_id, "fields": NEW_RECORD})
        return _spec(
            options,
            f"{api}/records",
            headers=headers,
            method="POST",
            bodies=(body,),
            expect_status=201,
        )
    if scenario == "batch":
        records = [{"fields": {**NEW_RECORD, "Name": f"Batch task {i}"}} for i in range(BATCH_SIZE)]
        body = _json_bytes({"table_id": table_id, "records": records})
        return _spec(
            options,
            f"{api}/records/batch",
            headers=headers,
            method="POST",
            bodies=(body,),
            expect_status=201,
        )
    # update: one pass over the ids with one score, the next pass with the other, and so on.
    ids = prepared.updated_ids
    paths = tuple(f"{API}/records/{record_id}" for record_id in ids) * len(UPDATE_SCORES)
    bodies = tuple(
        _json_bytes({"fields": {"Score": score}}) for score in UPDATE_SCORES for _ in ids
    )
    return _spec(options, api, headers=headers, method="PATCH", paths=paths, bodies=bodies)


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _alone_seconds(spec: LoadSpec) -> float:
    """Send a few of the scenario's requests one after the other; their median latency.

    This also checks the set-up before the load: raises ``RuntimeError`` with the answer when one
    is not the expected status, or a page is not full. The requests are the last ones of the
    rotation, so that the load's first pass of updates still changes every record it visits.
    """
    url = urlsplit(spec.url)
    headers = {**spec.headers, "Content-Type": "application/json"}
    latencies = []
    base_url = f"{url.scheme}://{url.netloc}"
    with httpx2.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_SECONDS) as client:
        for index in range(-1, -ALONE_REQUESTS - 1, -1):
            path = spec.paths[index % len(spec.paths)] if spec.paths else _target(spec.url)
            body = spec.bodies[index % len(spec.bodies)] if spec.bodies else None
            started = time.perf_counter()
            response = client.request(spec.method, path, content=body, headers=headers)
            latencies.append(time.perf_counter() - started)
            if response.status_code != spec.expect_status:
                raise RuntimeError(
                    f"{spec.method} {path} answered {response.status_code}, "
                    f"expected {spec.expect_status}: {response.text[:500]}"
                )
            if spec.method == "GET":
                page = response.json()
                wanted = min(PAGE_SIZE, page["pagination"]["total"])
                if not page["data"] or len(page["data"]) != wanted:
                    raise RuntimeError(f"{path} lists {len(page['data'])} records, not {wanted}")
    return statistics.median(latencies)


def _target(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _fit_window(spec: LoadSpec, alone: float) -> LoadSpec:
    """The spec with warm-up and window long enough for requests that queue ``concurrency`` deep.

    A request that takes ``alone`` by itself takes about ``concurrency`` times as long when every
    connection waits for one; a window shorter than that would see no request finish.
    """
    queued = spec.concurrency * alone
    warmup = max(spec.warmup, math.ceil(queued))
    duration = max(spec.duration, math.ceil(QUEUE_WINDOWS * queued))
    return replace(spec, warmup=warmup, duration=duration)


# -- the table ------------------------------------------------------------------------------------


def _prepare(base_url: str, settings: Settings, records: int) -> Prepared:
    """Register, sign in, create the table; fill it with ``records`` records (see the module doc).

    Raises ``RuntimeError`` when the API answers anything unexpected.
    """
    rng = random.Random(RANDOM_SEED)
    with httpx2.Client(base_url=base_url + API, timeout=60.0) as client:
        login = sign_up(client)
        workspace = expect(client.post("/workspaces", json={"name": "Bench"}), 201)
        base = expect(
            client.post("/bases", json={"workspace_id": workspace["id"], "name": "B"}), 201
        )
        table = expect(
            client.post("/tables", json={"base_id": base["id"], "name": "Tasks", "fields": FIELDS}),
            201,
        )
        fields = {f["name"]: f for f in table["fields"]}
        # The first batch through the API, and its answer compared with the stored form we compute.
        first = [_row(rng, number) for number in range(1, BATCH_SIZE + 1)]
        batch = {"table_id": table["id"], "records": [{"fields": row} for row in first]}
        created = expect(client.post("/records/batch", json=batch), 201)["data"]
        for row, record in zip(first, created, strict=True):
            stored = _stored(fields, row)
            expected = {name: stored[f["id"]] for name, f in fields.items() if f["id"] in stored}
            if record["fields"] != expected or record["version"] != 1:
                raise RuntimeError(f"the API stored {record}, this script computes {expected}")
    ids = [r["id"] for r in created]
    rest = [_row(rng, number) for number in range(BATCH_SIZE + 1, records + 1)]
    ids += asyncio.run(
        _bulk_insert(settings, table["id"], login["user"]["id"], fields, rest, BATCH_SIZE + 1)
    )
    step = max(1, len(ids) // UPDATED_RECORDS)
    return Prepared(
        base_url=base_url,
        token=login["access_token"],
        table_id=table["id"],
        updated_ids=tuple(ids[::step][:UPDATED_RECORDS]),
    )


def _row(rng: random.Random, number: int) -> dict[str, Any]:
    """Record ``number``'s values by field name, as a client would send them."""
    return {
        "Name": f"Task {number}",
        "Status": rng.choice(STATUSES),
        "Score": round(rng.uniform(0, 100), 1),
        "Done": rng.random() < 0.3,
    }


def _stored(fields: dict[str, dict[str, Any]], row: dict[str, Any]) -> dict[str, Any]:
    """A row's values in the stored form the API writes: keyed by field id, validated by type."""
    stored = {}
    for name, value in row.items():
        f = fields[name]
        kind: FieldType = f["type"]
        validated, grown = validate_value(kind, f["options"], value)
        assert grown is None, "no typecast, so no new choices"
        if validated is not None:
            stored[f["id"]] = validated
    return stored


async def _bulk_insert(
    settings: Settings,
    table_id: str,
    user_id: str,
    fields: dict[str, dict[str, Any]],
    rows: list[dict[str, Any]],
    first_number: int,
) -> list[str]:
    """Insert ``rows`` as records ``first_number``… and move the table's counters; their ids."""
    engine = create_async_engine(settings.resolved_database_url)
    ids = [new_id("rec") for _ in rows]
    try:
        async with engine.begin() as conn:
            for start in range(0, len(rows), INSERT_CHUNK):
                now = utcnow()
                chunk = [
                    {
                        "id": ids[index],
                        "table_id": table_id,
                        "autonumber": first_number + index,
                        "fields": _stored(fields, rows[index]),
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                        "created_by": user_id,
                        "updated_by": user_id,
                    }
                    for index in range(start, min(start + INSERT_CHUNK, len(rows)))
                ]
                await conn.execute(insert(DataRecord), chunk)
            await conn.execute(
                update(DataTable)
                .where(DataTable.id == table_id)
                .values(
                    next_autonumber=DataTable.next_autonumber + len(rows),
                    record_count=DataTable.record_count + len(rows),
                )
            )
        if engine.dialect.name == "postgresql":
            # Committed: statistics gathered in a rolled-back transaction are thrown away.
            async with engine.begin() as conn:
                await conn.execute(text("ANALYZE records"))
    finally:
        await engine.dispose()
    return ids


# -- the report -----------------------------------------------------------------------------------


def _table(measurements: Sequence[Measurement], options: Options) -> Table:
    baseline = next((m.result for m in measurements if m.target == "baseline"), None)
    table = Table(
        title=f"Records API, table of {options.records:,} records",
        caption=(
            f"{BASELINE_CAPTION}; alone: median of {ALONE_REQUESTS} requests sent one at a time; "
            "window: the measured seconds (longer for a scenario whose requests, queued at every "
            "connection, would outlast the default)"
        ),
    )
    table.add_column("target")
    table.add_column("scenario")
    table.add_column("alone\nms", justify="right")
    table.add_column("window\ns", justify="right")
    add_load_columns(table)
    for measurement in measurements:
        alone = measurement.alone
        table.add_row(
            measurement.target,
            _SCENARIO_LABELS[measurement.scenario],
            "" if alone is None else f"{alone * 1000:.1f}",
            f"{measurement.window:g}",
            *load_cells(measurement.result, baseline),
        )
    return table


_SCENARIO_LABELS: dict[Scenario | None, str] = {
    None: "GET / (small JSON)",
    "list": "GET /records, first page",
    "filter+sort": "GET /records, filter + sort",
    "create": "POST /records",
    "batch": f"POST /records/batch ({BATCH_SIZE})",
    "update": "PATCH /records/{id}",
}


def _report_errors(measurements: Sequence[Measurement]) -> int:
    """Print every scenario's errors; 1 (a failed benchmark) if there were any, or if a scenario
    saw no request finish inside its window, else 0."""
    failed = [m for m in measurements if m.result.error_count or not m.result.latencies]
    for measurement in failed:
        result = measurement.result
        where = f"{TARGET_LABELS[measurement.target]}, {measurement.scenario or 'baseline'}"
        if not result.latencies:
            console.print(f"[red]{where}: no request finished inside the window[/red]")
        if result.error_count:
            print_errors(console, where, result)
    return 1 if failed else 0


if __name__ == "__main__":
    run_script(main, console)
