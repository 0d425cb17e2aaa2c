"""Outbox replay throughput: N queued creates replayed by ``pa.offline.sync()`` against the
same N creates sent directly through ``pa.services.record.create_record``, one at a time each.

Replaying costs what a direct create costs plus three durable (``synchronous=FULL``) updates of
the outbox file per entry (sending, then the answer and ``done``); recording the N entries
beforehand (``enqueue``, one durable insert each) is timed on its own.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pyairtable_integration import create_integration

PASSWORD = "quiet-harbour-7305"


@dataclass(frozen=True)
class OutboxFigures:
    """Entries per second: sent directly, recorded into the outbox, replayed from it."""

    entries: int
    direct_per_second: float
    enqueue_per_second: float
    replay_per_second: float

    @property
    def replay_ratio(self) -> float:
        """Replay throughput as a fraction of direct sending (1.0: as fast)."""
        return self.replay_per_second / self.direct_per_second


async def measure_outbox(base_url: str, *, entries: int = 500) -> OutboxFigures:
    """Time ``entries`` direct creates, then ``entries`` enqueued creates and their replay.

    Raises:
        ServiceError: a request failed; RuntimeError: the replay left entries unsent.
    """
    with tempfile.TemporaryDirectory(prefix="pyairtable-outbox-bench-") as folder:
        pa = create_integration(
            base_url=base_url,
            environ={},
            features={"enable_offline_support": True, "enable_realtime": False},
            offline_path=str(Path(folder) / "outbox.sqlite3"),
        )
        try:
            # Not initialized: no background replay, so ``sync()`` alone is timed.
            await pa.offline.open()
            email = f"bench-{secrets.token_hex(4)}@example.com"
            await pa.services.auth.register(
                email=email, password=PASSWORD, first_name="Timing", last_name="Run"
            )
            await pa.auth.login(email, PASSWORD)
            workspace = await pa.services.workspace.create_workspace(name="Outbox bench")
            base = await pa.services.base.create_base(workspace_id=workspace.id, name="B")
            direct_table = await pa.services.table.create_table(base_id=base.id, name="Direct")
            queued_table = await pa.services.table.create_table(base_id=base.id, name="Queued")

            started = time.perf_counter()
            for n in range(entries):
                await pa.services.record.create_record(direct_table.id, {"Name": f"d{n}"})
            direct = time.perf_counter() - started

            started = time.perf_counter()
            for n in range(entries):
                await pa.offline.enqueue(
                    "create_record", {"table_id": queued_table.id, "fields": {"Name": f"q{n}"}}
                )
            enqueue = time.perf_counter() - started

            started = time.perf_counter()
            result = await pa.offline.sync()
            replay = time.perf_counter() - started
            if result.pending or result.sent != entries:
                raise RuntimeError(f"the replay did not send every entry: {result}")
        finally:
            await pa.aclose()
    return OutboxFigures(
        entries=entries,
        direct_per_second=entries / direct,
        enqueue_per_second=entries / enqueue,
        replay_per_second=entries / replay,
    )
