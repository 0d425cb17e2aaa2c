"""The read cache: a cached read against the same read sent to the backend, and what 10,000
cached records cost in memory.

Reads: ``get_records`` of a 100-record table and ``get_record`` of one of its records, each timed
per call through an integration with ``enable_caching=True`` (after one read that fills the
cache, every call is a hit) and then inside ``with pa.cache.bypass():`` (every call goes to the
backend); the figure is the median per call, the ratio network ÷ cached.

Memory: 10,000 records are fetched in pages of 100 through the cache, as an app paging through a
table would (so each is parsed into a ``Record`` and held by the record layer, and each page is
kept as a cached list); ``tracemalloc`` gives the memory still allocated afterwards, once the
pages the loop held are gone, over what was allocated before.
"""

from __future__ import annotations

import gc
import secrets
import statistics
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pyairtable_integration import PyAirtableIntegration, create_integration

PASSWORD = "quiet-harbour-7305"
TABLE_RECORDS = 100
BATCH = 100  # records per batch create and per page (the contract's maximum)
MIB = 1024 * 1024
FIELDS = [
    {"name": "Name", "type": "text"},
    {"name": "Notes", "type": "long_text"},
    {"name": "Amount", "type": "number"},
]


@dataclass(frozen=True)
class ReadFigures:
    """Median seconds per call of one read, answered by the cache and by the backend."""

    name: str
    calls: int
    cached: float
    network: float

    @property
    def speedup(self) -> float:
        """How many times faster the cached read is (network ÷ cached)."""
        return self.network / self.cached


@dataclass(frozen=True)
class MemoryFigures:
    """Memory still allocated after ``records`` records were fetched through the cache."""

    records: int
    retained_bytes: int

    @property
    def bytes_per_record(self) -> float:
        return self.retained_bytes / self.records

    @property
    def mebibytes(self) -> float:
        return self.retained_bytes / MIB


@dataclass(frozen=True)
class CacheFigures:
    reads: tuple[ReadFigures, ...]
    memory: MemoryFigures


async def measure_cache(base_url: str, *, calls: int = 500, records: int = 10_000) -> CacheFigures:
    """Time ``calls`` cached and uncached reads of each kind; measure ``records`` cached records.

    Raises:
        ServiceError: a request failed; RuntimeError: a read meant to hit the cache did not, or
            the record layer does not hold every record fetched.
    """
    pa = create_integration(
        base_url=base_url, environ={}, enable_caching=True, features={"enable_realtime": False}
    )
    try:
        email = f"bench-{secrets.token_hex(4)}@example.com"
        await pa.services.auth.register(
            email=email, password=PASSWORD, first_name="Timing", last_name="Run"
        )
        await pa.auth.login(email, PASSWORD)
        workspace = await pa.services.workspace.create_workspace(name="Cache bench")
        base = await pa.services.base.create_base(workspace_id=workspace.id, name="B")
        small = await pa.services.table.create_table(base_id=base.id, name="Hundred", fields=FIELDS)
        large = await pa.services.table.create_table(base_id=base.id, name="Many", fields=FIELDS)
        await _fill(pa, small.id, TABLE_RECORDS)
        await _fill(pa, large.id, records)

        first = (await pa.services.record.get_records(small.id)).data[0]
        reads = (
            await _time_read(
                pa,
                f"get_records, {TABLE_RECORDS} records",
                lambda: pa.services.record.get_records(small.id),
                calls,
            ),
            await _time_read(
                pa, "get_record", lambda: pa.services.record.get_record(first.id), calls
            ),
        )
        memory = await _measure_memory(pa, large.id, records)
    finally:
        await pa.aclose()
    return CacheFigures(reads, memory)


async def _fill(pa: PyAirtableIntegration, table_id: str, count: int) -> None:
    for start in range(0, count, BATCH):
        await pa.services.record.create_records(
            table_id,
            [
                {"Name": f"Record {n}", "Notes": f"note {n} " + "x" * (n % 40), "Amount": n}
                for n in range(start, min(start + BATCH, count))
            ],
        )


async def _time_read(
    pa: PyAirtableIntegration, name: str, read: Callable[[], Awaitable[Any]], calls: int
) -> ReadFigures:
    await read()  # fills the cache (and warms the connection)
    hits = pa.cache.manager.get_stats().hits
    cached = [await _timed(read) for _ in range(calls)]
    counted = pa.cache.manager.get_stats().hits - hits
    if counted != calls:
        raise RuntimeError(f"{name}: {counted} of {calls} cached reads hit the cache")
    with pa.cache.bypass():
        network = [await _timed(read) for _ in range(calls)]
    return ReadFigures(name, calls, statistics.median(cached), statistics.median(network))


async def _timed(read: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await read()
    return time.perf_counter() - started


async def _measure_memory(pa: PyAirtableIntegration, table_id: str, count: int) -> MemoryFigures:
    # The writes that filled the table put their answers in the record layer: start empty, so
    # the records are held because they were read, as in an app that opens a table.
    await pa.clear_cache()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        offset: str | None = None
        while True:
            page = await pa.services.record.get_records(table_id, page_size=BATCH, offset=offset)
            offset = page.pagination.next_offset
            if offset is None:
                break
        del page
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    held = len(pa.cache.records)
    if held != count:
        raise RuntimeError(f"the record layer holds {held} of the {count} records fetched")
    return MemoryFigures(count, after - before)
