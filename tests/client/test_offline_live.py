"""Over a real port through a TCP proxy: writes made while the backend is cut off are queued,
and the background replay sends them, in order and once each, when a health probe finds the
backend again."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest

from pyairtable_integration import OfflineError, create_integration
from pyairtable_integration.offline import OutboxEvent
from pyairtable_integration.testing import PASSWORD, live_backend, tcp_proxy

pytestmark = pytest.mark.anyio

GUARD = 60.0  # seconds: a hang guard, not a timing threshold


async def test_writes_queued_while_cut_off_are_replayed_when_the_backend_returns(
    tmp_path: Path,
) -> None:
    async with (
        live_backend(tmp_path / "data") as live,
        tcp_proxy("127.0.0.1", live.port) as proxy,
    ):
        pa = create_integration(
            base_url=f"http://127.0.0.1:{proxy.port}/api/v1",
            environ={},
            retry_attempts=1,
            retry_delay=0,
            features={"enable_offline_support": True, "enable_realtime": False},
            offline_path=str(tmp_path / "outbox.sqlite3"),
        )
        async with pa:
            email = f"offline-{secrets.token_hex(4)}@example.com"
            await live.api.register(email)
            await pa.auth.login(email, PASSWORD)
            workspace = await pa.services.workspace.create_workspace(name="W")
            base = await pa.services.base.create_base(workspace_id=workspace.id, name="B")
            table = await pa.services.table.create_table(base_id=base.id, name="T")
            kept = await pa.offline.create_record(table.id, {"Name": "online"})

            events: list[OutboxEvent] = []
            drained = asyncio.Event()

            def listen(event: OutboxEvent) -> None:
                events.append(event)
                if event.kind == "sent" and event.pending == 0:
                    drained.set()

            pa.offline.on_change(listen)
            proxy.cut()
            entry_ids = []
            for name in ("a", "b", "c"):
                with pytest.raises(OfflineError) as caught:
                    await pa.offline.create_record(table.id, {"Name": name})
                entry_ids.append(caught.value.entry_id)
            with pytest.raises(OfflineError):
                await pa.offline.update_record(kept.id, {"Name": "online, renamed offline"})
            assert not pa.offline.connectivity.online
            assert [e.id for e in pa.offline.pending()] == [*entry_ids, pa.offline.pending()[3].id]
            assert [e.pending for e in events if e.kind == "queued"] == [1, 2, 3, 4]

            proxy.restore()
            async with asyncio.timeout(GUARD):
                await drained.wait()
            assert pa.offline.connectivity.online
            assert pa.offline.connectivity.probes >= 1
            assert pa.offline.pending() == []

            owner = await live.api.login(email)
            response = await live.api.client.get(
                "/records", params={"table_id": table.id}, headers=owner.headers
            )
            records = response.json()["data"]
            assert [r["fields"]["Name"] for r in records] == [
                "online, renamed offline",
                "a",
                "b",
                "c",
            ]
            assert next(r for r in records if r["id"] == kept.id)["version"] == 2
