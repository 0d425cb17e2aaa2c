"""Over a real port: a connection cut by a TCP proxy is a NetworkError, and service resumes."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx2
import pytest

from pyairtable_integration import NetworkError, create_integration
from pyairtable_integration.testing import PASSWORD, FaultTransport, live_backend, tcp_proxy

pytestmark = pytest.mark.anyio


async def test_a_cut_connection_is_a_network_error_and_the_integration_recovers(
    tmp_path: Path,
) -> None:
    async with (
        live_backend(tmp_path / "data") as live,
        tcp_proxy("127.0.0.1", live.port) as proxy,
    ):
        wire = FaultTransport(httpx2.AsyncHTTPTransport())
        pa = create_integration(
            base_url=f"http://127.0.0.1:{proxy.port}/api/v1",
            retry_attempts=1,
            retry_delay=0,
            breaker_failure_threshold=10,
            environ={},
            http_transport=wire,
        )
        try:
            email = f"live-{secrets.token_hex(4)}@example.com"
            await live.api.register(email)
            await pa.auth.login(email, PASSWORD)
            await pa.services.workspace.create_workspace(name="Live")
            assert pa.get_connection_status().state == "online"

            proxy.cut()
            sent = len(wire.requests)
            with pytest.raises(NetworkError) as caught:
                await pa.services.workspace.get_workspaces()
            attempts = wire.requests[sent:]
            assert len(attempts) == 2  # the first try and one retry, both failed
            assert all(seen.error is not None for seen in attempts)
            assert caught.value.request_id == attempts[0].request_id
            health = pa.get_service_health()["workspace"]
            assert (health.breaker, health.consecutive_failures) == ("closed", 2)
            assert pa.get_connection_status().state == "offline"

            proxy.restore()
            page = await pa.services.workspace.get_workspaces()
            assert [w.name for w in page.data] == ["Live"]
            health = pa.get_service_health()["workspace"]
            assert (health.breaker, health.consecutive_failures) == ("closed", 0)
            assert pa.get_connection_status().state == "online"
        finally:
            await pa.aclose()
