"""Health, connection status, metrics and debug logging, against the real backend in-process.

Faults are injected at the transport seam: ``Faulty`` wraps the backend's ASGI transport and
refuses connections while told to, as a backend that went away would.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import httpx2
import pytest

from pyairtable_integration import CircuitOpenError, NetworkError
from pyairtable_integration.testing import PASSWORD
from pyairtable_server.routes.health import SERVICES

from .conftest import Backend, IntegrationFactory, sign_in

pytestmark = pytest.mark.anyio

NEW_PASSWORD = "another horse battery staple"


class Faulty(httpx2.AsyncBaseTransport):
    """Forwards to ``inner``; while ``failures`` is above zero each request fails to connect."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner
        self.failures = 0
        self.refused = 0

    def fail(self, count: int = 1_000_000) -> None:
        self.failures = count

    def heal(self) -> None:
        self.failures = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if self.failures > 0:
            self.failures -= 1
            self.refused += 1
            raise httpx2.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_service_health_reports_every_backend_service_and_its_breaker(
    make_integration: IntegrationFactory, backend: Backend
) -> None:
    pa = await make_integration()
    assert all(status.backend_status is None for status in pa.get_service_health().values())

    health = await pa.check_health()

    assert health.status == "ok"
    statuses = pa.get_service_health()
    assert set(SERVICES) <= set(statuses)
    for name in SERVICES:
        status = statuses[name]
        assert status.name == name
        assert status.backend_status == "ok", name
        assert status.latency_ms is not None
        assert status.breaker == "closed"
        assert status.available
        assert status.retry_in is None


async def test_repeated_connection_failures_show_the_breaker_open(
    make_integration: IntegrationFactory, backend: Backend
) -> None:
    faulty = Faulty(backend.transport())
    pa = await make_integration(
        http_transport=faulty, retry_attempts=0, breaker_failure_threshold=3
    )
    await sign_in(pa, backend)
    await pa.check_health()

    faulty.fail()
    for _ in range(3):
        with pytest.raises(NetworkError):
            await pa.services.workspace.get_workspaces()
    with pytest.raises(CircuitOpenError):
        await pa.services.workspace.get_workspaces()
    assert faulty.refused == 3  # the open breaker sent nothing

    statuses = pa.get_service_health()
    workspace = statuses["workspace"]
    assert workspace.breaker == "open"
    assert not workspace.available
    assert workspace.consecutive_failures == 3
    assert workspace.retry_in is not None and workspace.retry_in > 0
    assert workspace.backend_status == "ok"  # the backend's last report, kept beside it
    assert statuses["auth"].breaker == "closed"
    status = pa.get_connection_status()
    assert status.open_breakers == ("workspace",)
    assert status.state == "offline"  # the latest answer was a refused connection


async def test_connection_status_goes_unknown_online_offline_online(
    make_integration: IntegrationFactory, backend: Backend
) -> None:
    faulty = Faulty(backend.transport())
    pa = await make_integration(
        http_transport=faulty, retry_attempts=0, breaker_failure_threshold=100
    )
    first = pa.get_connection_status()
    assert first.state == "unknown"
    assert not first.authenticated
    assert first.last_success_ago is None
    assert first.last_error is None

    await sign_in(pa, backend)
    online = pa.get_connection_status()
    assert online.state == "online"
    assert online.authenticated
    assert online.last_success_ago is not None

    faulty.fail()
    with pytest.raises(NetworkError):
        await pa.services.workspace.get_workspaces()
    offline = pa.get_connection_status()
    assert offline.state == "offline"
    assert offline.authenticated  # signed in still; only the network is gone
    assert offline.last_error is not None
    assert offline.last_error.startswith("NETWORK_ERROR")
    assert offline.open_breakers == ()

    faulty.heal()
    await pa.services.workspace.get_workspaces()
    assert pa.get_connection_status().state == "online"


async def test_metrics_count_requests_errors_retries_and_shared_calls(
    make_integration: IntegrationFactory, backend: Backend
) -> None:
    faulty = Faulty(backend.transport())
    pa = await make_integration(http_transport=faulty, retry_attempts=3)
    await sign_in(pa, backend)
    assert "workspace" not in pa.get_metrics()

    faulty.fail(2)  # two refused attempts, then the third gets through
    await pa.services.workspace.get_workspaces()
    metrics = pa.get_metrics()["workspace"]
    assert (metrics.requests, metrics.errors, metrics.retries) == (3, 2, 2)
    assert metrics.errors_by_type == {"NETWORK_ERROR": 2}

    served_before = backend.count("GET", "/api/v1/workspaces")
    await asyncio.gather(*(pa.services.workspace.get_workspaces() for _ in range(10)))
    assert backend.count("GET", "/api/v1/workspaces") == served_before + 1
    metrics = pa.get_metrics()["workspace"]
    assert metrics.requests == 4
    assert metrics.deduplicated == 9

    auth = pa.get_metrics()["auth"]
    assert (auth.requests, auth.errors, auth.retries, auth.deduplicated) == (1, 0, 0, 0)
    assert metrics.latency_ms_p50 is not None
    assert metrics.latency_ms_p95 is not None
    assert metrics.latency_ms_p99 is not None
    assert 0 < metrics.latency_ms_p50 <= metrics.latency_ms_p95 <= metrics.latency_ms_p99


@pytest.fixture
def restore_package_logging() -> Iterator[None]:
    """``debug=True`` turns the package's logger to DEBUG; other tests get it back as it was."""
    package = logging.getLogger("pyairtable_integration")
    level, handlers = package.level, list(package.handlers)
    yield
    package.setLevel(level)
    package.handlers[:] = handlers


@pytest.mark.usefixtures("restore_package_logging")
async def test_debug_logs_every_request_and_response_without_secrets(
    make_integration: IntegrationFactory, backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pyairtable_integration")
    pa = await make_integration(debug=True)
    email = await sign_in(pa, backend)
    first = pa.auth.session
    assert first is not None
    await pa.services.workspace.create_workspace(name="Logged")
    await pa.services.workspace.get_workspaces()
    second = await pa.auth.refresh()
    await pa.services.auth.change_password(current_password=PASSWORD, new_password=NEW_PASSWORD)
    await pa.auth.logout()

    lines = [record.getMessage() for record in caplog.records]
    text = "\n".join(lines) + "\n" + caplog.text
    assert any(
        line.startswith("→ GET ") and line.split()[2].endswith("/api/v1/workspaces")
        for line in lines
    )
    assert any(line.startswith("← 200 GET ") and "/api/v1/workspaces" in line for line in lines)
    assert any(line.startswith("→ POST ") and "/auth/login" in line for line in lines)
    assert any(line.startswith("← 201 POST ") and "/api/v1/workspaces" in line for line in lines)
    assert '"name": "Logged"' in text  # bodies are shown, with secrets replaced
    assert email in text
    hidden = {
        PASSWORD,
        NEW_PASSWORD,
        first.tokens.access_token,
        first.tokens.refresh_token,
        second.tokens.access_token,
        second.tokens.refresh_token,
    }
    for secret in hidden:
        assert secret not in text
    assert "authorization" not in text.lower()
    assert "[redacted]" in text
