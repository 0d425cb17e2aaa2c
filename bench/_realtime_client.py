"""Realtime latency at the SDK's callback against a raw WebSocket receive, in the same run.

One record is written at a time (no queueing), and the time from just before its ``POST`` to
(a) the callback of ``pa.realtime.subscribe_to_record_changes`` and (b) the receive of a bare
``websockets`` client subscribed to the same table is taken for each; both listen at once, so
they see the same server and the same moment. The ratio of the percentiles is the SDK's cost.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import statistics
import time
from dataclasses import dataclass

from websockets.asyncio.client import connect

from pyairtable_integration import create_integration
from pyairtable_integration.types import Event

PASSWORD = "quiet-harbour-7305"
#: A guard against a lost event, not a measure.
WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class LatencyFigures:
    """Milliseconds from the write to the receive, per percentile."""

    events: int
    sdk_p50: float
    sdk_p99: float
    raw_p50: float
    raw_p99: float


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def measure_realtime_latency(base_url: str, *, events: int = 200) -> LatencyFigures:
    """Write ``events`` records one at a time; time each to the SDK callback and the raw socket.

    Raises:
        ServiceError: a request failed; TimeoutError: an event did not arrive.
    """
    pa = create_integration(base_url=base_url, environ={})
    await pa.initialize()
    try:
        email = f"bench-{secrets.token_hex(4)}@example.com"
        await pa.services.auth.register(
            email=email, password=PASSWORD, first_name="Timing", last_name="Run"
        )
        session = await pa.auth.login(email, PASSWORD)
        workspace = await pa.services.workspace.create_workspace(name="Realtime bench")
        base = await pa.services.base.create_base(workspace_id=workspace.id, name="B")
        table = await pa.services.table.create_table(base_id=base.id, name="T")

        sdk_at: dict[str, float] = {}
        raw_at: dict[str, float] = {}
        arrived = asyncio.Event()

        def on_event(event: Event) -> None:
            sdk_at[event.aggregate_id] = time.perf_counter()
            arrived.set()

        subscription = pa.realtime.subscribe_to_record_changes(table.id, on_event)
        await asyncio.wait_for(subscription.wait_ready(), WAIT_SECONDS)
        async with connect(pa.config.websocket_url, proxy=None, compression=None) as ws:
            await ws.send(json.dumps({"type": "auth", "token": session.tokens.access_token}))
            await ws.send(
                json.dumps(
                    {
                        "type": "subscribe",
                        "subscription_id": "raw",
                        "channel": "record",
                        "filters": {"table_id": table.id},
                    }
                )
            )
            while json.loads(await ws.recv())["type"] != "subscription_confirmed":
                pass

            async def read_raw() -> None:
                async for frame in ws:
                    message = json.loads(frame)
                    if message["type"] == "event":
                        raw_at[message["event"]["aggregate_id"]] = time.perf_counter()
                        arrived.set()

            reader = asyncio.create_task(read_raw())
            sdk: list[float] = []
            raw: list[float] = []
            try:
                for n in range(events):
                    started = time.perf_counter()
                    record = await pa.services.record.create_record(table.id, {"Name": f"r{n}"})
                    async with asyncio.timeout(WAIT_SECONDS):
                        while record.id not in sdk_at or record.id not in raw_at:
                            arrived.clear()
                            await arrived.wait()
                    sdk.append((sdk_at[record.id] - started) * 1000)
                    raw.append((raw_at[record.id] - started) * 1000)
            finally:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
    finally:
        await pa.aclose()
    return LatencyFigures(
        events=events,
        sdk_p50=statistics.median(sdk),
        sdk_p99=_percentile(sdk, 0.99),
        raw_p50=statistics.median(raw),
        raw_p99=_percentile(raw, 0.99),
    )
