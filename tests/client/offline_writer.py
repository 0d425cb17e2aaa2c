"""A client process for the crash test: replays its outbox, then writes the rest of a plan.

    python offline_writer.py <base_url> <outbox path> <email> <password> <plan.json>

The plan is a JSON list of ``{"op": <pa.offline method>, "args": {...}}``. The process signs in,
prints ``ready``, writes every step of the plan not yet in the outbox (entries are never pruned
here, so their number is how far an earlier, killed process got), syncs until nothing is
pending, and prints ``done``. The test kills it with SIGKILL at random moments.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from pyairtable_integration import OfflineError, create_integration


async def main(base_url: str, outbox: str, email: str, password: str, plan: list[Any]) -> None:
    pa = create_integration(
        base_url=base_url,
        environ={},
        retry_attempts=2,
        retry_delay=0.05,
        features={"enable_offline_support": True, "enable_realtime": False},
        offline_path=outbox,
    )
    async with pa:
        await pa.auth.login(email, password)
        print("ready", flush=True)
        recorded = len(await pa.offline.entries())
        for step in plan[recorded:]:
            # OfflineError: kept; the sync below (or a later process) sends it.
            with contextlib.suppress(OfflineError):
                await getattr(pa.offline, step["op"])(**step["args"])
        result = await pa.offline.sync()
        if result.pending:
            raise SystemExit(f"still pending after sync: {result}")
        failed = [e for e in await pa.offline.entries() if e.state != "done"]
        if failed:
            raise SystemExit(f"entries not done: {failed}")
        print("done", flush=True)


if __name__ == "__main__":
    base_url, outbox, email, password, plan_file = sys.argv[1:6]
    steps = json.loads(Path(plan_file).read_text())
    asyncio.run(main(base_url, outbox, email, password, steps))
