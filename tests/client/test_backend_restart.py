"""The backend process is killed (SIGKILL) and started again on the same port and database: a
realtime subscriber still gets every event exactly once and in order, and writes queued in the
outbox while the backend was down are replayed, each once, when a health probe finds it again.

The backend runs as a real ``pyairtable-integration serve`` process; the client reaches it
directly, or through a ``TcpProxy`` where a test needs the subscriber kept away while records
are written (a gap it must recover from the event log).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from pyairtable_integration import (
    OfflineError,
    PyAirtableIntegration,
    RealtimeState,
    create_integration,
)
from pyairtable_integration.offline import OutboxEvent
from pyairtable_integration.testing import PASSWORD, tcp_proxy
from pyairtable_integration.types import Event

from ..server.process import CLI, clean_environment, free_port
from .realtime_timing import FAST_REALTIME, HANG

pytestmark = pytest.mark.anyio


@dataclass
class BackendProcess:
    """One backend server on a fixed port and data folder, that can be killed and restarted."""

    port: int
    data_dir: Path
    log: Path
    process: asyncio.subprocess.Process | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    async def start(self) -> None:
        """Start the server and return once its health endpoint answers."""
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                CLI,
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                "--log-level",
                "warning",
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                env=clean_environment(PYAIRTABLE_REALTIME_SSE_HEARTBEAT_SECONDS="0.5"),
                cwd=self.data_dir.parent,
            )
        async with httpx2.AsyncClient(timeout=5) as client:
            with anyio.fail_after(HANG):
                while True:
                    if self.process.returncode is not None:
                        raise AssertionError(f"the backend exited:\n{self.log.read_text()}")
                    with contextlib.suppress(httpx2.TransportError):
                        if (await client.get(f"{self.api_url}/health")).status_code == 200:
                            return
                    await anyio.sleep(0.05)

    async def kill(self) -> None:
        """SIGKILL the server: no shutdown, open connections simply die."""
        process, self.process = self.process, None
        assert process is not None
        process.kill()
        await process.wait()


@asynccontextmanager
async def backend_process(tmp_path: Path) -> AsyncIterator[BackendProcess]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    served = BackendProcess(free_port(), data_dir, tmp_path / "backend.log")
    await served.start()
    try:
        yield served
    finally:
        if served.process is not None:
            await served.kill()


class Owner:
    """The test user, writing straight to the backend with a raw HTTP client."""

    def __init__(self, api_url: str) -> None:
        self.email = f"restart-{secrets.token_hex(4)}@example.com"
        self.client = httpx2.AsyncClient(base_url=api_url, timeout=30)
        self.headers: dict[str, str] = {}

    async def register(self) -> None:
        response = await self.client.post(
            "/auth/register",
            json={"email": self.email, "password": PASSWORD, "first_name": "R", "last_name": "S"},
        )
        assert response.status_code == 201, response.text
        login = await self.client.post(
            "/auth/login", json={"email": self.email, "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        self.headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

    async def write(self, table_id: str, names: list[str]) -> list[str]:
        """Create records named ``names`` in one batch; their ids, in order."""
        response = await self.client.post(
            "/records/batch",
            json={"table_id": table_id, "records": [{"fields": {"Name": n}} for n in names]},
            headers=self.headers,
        )
        assert response.status_code == 201, response.text
        return [record["id"] for record in response.json()["data"]]

    async def records(self, table_id: str) -> list[dict[str, Any]]:
        response = await self.client.get(
            "/records", params={"table_id": table_id, "page_size": 100}, headers=self.headers
        )
        assert response.status_code == 200, response.text
        records: list[dict[str, Any]] = response.json()["data"]
        return records


async def _table(pa: PyAirtableIntegration) -> str:
    workspace = await pa.services.workspace.create_workspace(name="Restart")
    base = await pa.services.base.create_base(workspace_id=workspace.id, name="B")
    table = await pa.services.table.create_table(base_id=base.id, name="T")
    return table.id


class Collector:
    """A subscription callback that keeps its events and lets the test wait for a count."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Event()

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    async def until(self, count: int) -> None:
        with anyio.fail_after(HANG):
            while len(self.events) < count:
                self._changed.clear()
                await self._changed.wait()


async def _state(pa: PyAirtableIntegration, wanted: str) -> None:
    manager = pa.realtime.manager
    reached = asyncio.Event()

    def check(state: RealtimeState) -> None:
        if state.status == wanted:
            reached.set()

    stop = manager.on_state_change(check)
    try:
        with anyio.fail_after(HANG):
            if manager.state.status != wanted:
                await reached.wait()
    finally:
        stop()


async def test_a_subscriber_gets_every_event_once_in_order_across_kills_of_the_backend(
    tmp_path: Path,
) -> None:
    async with (
        backend_process(tmp_path) as served,
        tcp_proxy("127.0.0.1", served.port) as proxy,
    ):
        owner = Owner(served.api_url)
        pa = create_integration(
            base_url=f"http://127.0.0.1:{proxy.port}/api/v1",
            environ={},
            retry_attempts=0,
            retry_delay=0,
            breaker_failure_threshold=1000,
            realtime_config=FAST_REALTIME,
        )
        try:
            await owner.register()
            await pa.initialize()
            await pa.auth.login(owner.email, PASSWORD)
            table_id = await _table(pa)
            seen = Collector()
            subscription = pa.realtime.subscribe_to_record_changes(table_id, seen)
            await _state(pa, "connected")
            with anyio.fail_after(HANG):
                await subscription.wait_ready()

            written = await owner.write(table_id, [f"before{i}" for i in range(20)])
            await seen.until(len(written))

            # 1. Killed while the subscriber is kept away; records written after the restart,
            # before it is let back in: a gap it must recover from the event log.
            proxy.cut()
            await served.kill()
            await served.start()
            written += await owner.write(table_id, [f"gap{i}" for i in range(20)])
            proxy.restore()
            await seen.until(len(written))

            # 2. Killed under a live connection; it reconnects by itself while records are
            # written as soon as the backend is back (whether before or after it returns).
            await _state(pa, "connected")
            await served.kill()
            await served.start()
            for round_ in range(4):
                written += await owner.write(table_id, [f"after{round_}-{i}" for i in range(10)])
            await seen.until(len(written))
            await _state(pa, "connected")
            written += await owner.write(table_id, ["last"])
            await seen.until(len(written))

            assert [event.aggregate_id for event in seen.events] == written
            assert all(event.type == "record.created" for event in seen.events)
            seqs = [event.seq for event in seen.events]
            assert seqs == sorted(set(seqs))  # in order, none twice
        finally:
            await pa.aclose()
            await owner.client.aclose()


async def test_writes_queued_while_the_backend_is_down_are_replayed_once_when_it_returns(
    tmp_path: Path,
) -> None:
    async with backend_process(tmp_path) as served:
        owner = Owner(served.api_url)
        pa = create_integration(
            base_url=served.api_url,
            environ={},
            retry_attempts=0,
            retry_delay=0,
            breaker_failure_threshold=1000,
            features={"enable_offline_support": True, "enable_realtime": False},
            offline_path=str(tmp_path / "outbox.sqlite3"),
        )
        try:
            await owner.register()
            await pa.initialize()
            await pa.auth.login(owner.email, PASSWORD)
            table_id = await _table(pa)
            kept = await pa.offline.create_record(table_id, {"Name": "online"})

            drained = asyncio.Event()

            def listen(event: OutboxEvent) -> None:
                if event.kind == "sent" and event.pending == 0:
                    drained.set()

            pa.offline.on_change(listen)
            await served.kill()
            queued = []
            for name in ("a", "b", "c"):
                with pytest.raises(OfflineError) as caught:
                    await pa.offline.create_record(table_id, {"Name": name})
                queued.append(caught.value.entry_id)
            with pytest.raises(OfflineError) as caught:
                await pa.offline.update_record(kept.id, {"Name": "renamed while down"})
            queued.append(caught.value.entry_id)
            assert [entry.id for entry in pa.offline.pending()] == queued
            assert not pa.offline.connectivity.online

            await served.start()
            with anyio.fail_after(HANG):
                await drained.wait()
            assert pa.offline.connectivity.probes >= 1
            assert pa.offline.pending() == []
            assert [e.state for e in await pa.offline.entries()] == ["done"] * 5

            records = await owner.records(table_id)
            assert [r["fields"]["Name"] for r in records] == ["renamed while down", "a", "b", "c"]
            assert [r["version"] for r in records] == [2, 1, 1, 1]  # each applied once
        finally:
            await pa.aclose()
            await owner.client.aclose()
