"""The reference backend in-process for client tests, and integrations wired to it.

Client tests run on SQLite only: what they prove is the client's behaviour against the real
server, and the server's own suite already proves it behaves the same on PostgreSQL.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from pyairtable_integration import PyAirtableIntegration, create_integration
from pyairtable_integration.testing import (
    PASSWORD,
    Actor,
    BackendApi,
    FakeClock,
    FaultTransport,
    backend_settings,
)
from pyairtable_server.app import create_app

BASE_URL = "http://testserver/api/v1"


class CountingApp:
    """The backend's ASGI app, counting every HTTP request it receives by (method, path)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.requests: Counter[tuple[str, str]] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.requests[(scope["method"], scope["path"])] += 1
        await self.app(scope, receive, send)


@dataclass
class Backend:
    """A running reference backend: its app, a raw client for set-up, and a request counter."""

    app: FastAPI
    counting: CountingApp
    api: BackendApi
    integrations: list[PyAirtableIntegration] = field(default_factory=list)

    def transport(self) -> httpx2.ASGITransport:
        """A fresh in-process transport to the backend (each integration owns its own)."""
        return httpx2.ASGITransport(app=self.counting, client=("127.0.0.1", 50001))

    def count(self, method: str, path: str) -> int:
        """How many ``method`` requests for ``path`` (e.g. ``/api/v1/workspaces``) arrived."""
        return self.counting.requests[(method, path)]

    async def user(self) -> Actor:
        """A new registered and signed-in user (through the raw client)."""
        return await self.api.actor()


@pytest.fixture(scope="module")
async def backend(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Backend]:
    """One backend per test module on its own SQLite file; tests isolate by fresh users."""
    async with running_backend(tmp_path_factory.mktemp("client") / "data") as running:
        yield running


@asynccontextmanager
async def running_backend(data_dir: Path, **settings: Any) -> AsyncIterator[Backend]:
    """The reference backend in-process on the public plugin's settings (``settings`` over its
    fast test settings), with a request counter and a raw client for set-up steps.

    Its lifespan runs in a task of its own (``LifespanManager``), so the backend may be entered
    and left from different tasks (the demo's tests do, through a loop thread)."""
    app = create_app(backend_settings(data_dir, **settings))
    async with LifespanManager(app, startup_timeout=60):
        transport = httpx2.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx2.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield Backend(app, CountingApp(app), BackendApi(client, app))


IntegrationFactory = Callable[..., Awaitable[PyAirtableIntegration]]


@pytest.fixture
async def make_integration(backend: Backend) -> AsyncIterator[IntegrationFactory]:
    """Build initialized integrations on the backend's ASGI transport; all closed afterwards.

    Retries wait nothing by default (``retry_delay=0``) so fault tests stay fast; pass options
    to override.
    """
    made: list[PyAirtableIntegration] = []

    async def make(**options: Any) -> PyAirtableIntegration:
        options.setdefault("base_url", BASE_URL)
        options.setdefault("retry_delay", 0)
        options.setdefault("http_transport", backend.transport())
        options.setdefault("environ", {})
        # Service tests count requests; cache tests switch the cache on themselves.
        options.setdefault("enable_caching", False)
        # An in-process ASGI backend carries no WebSocket; realtime tests use a real port.
        options.setdefault("features", {"enable_realtime": False})
        integration = create_integration(**options)
        await integration.initialize()
        made.append(integration)
        return integration

    yield make
    for integration in made:
        await integration.aclose()


@pytest.fixture
async def pa(make_integration: IntegrationFactory, backend: Backend) -> PyAirtableIntegration:
    """An integration signed in as a fresh user."""
    integration = await make_integration()
    await sign_in(integration, backend)
    return integration


async def sign_in(integration: PyAirtableIntegration, backend: Backend) -> str:
    """Register a fresh user and sign ``integration`` in as them; their e-mail."""
    email = f"client-{secrets.token_hex(4)}@example.com"
    await backend.api.register(email)
    await integration.auth.login(email, PASSWORD)
    return email


@dataclass
class Rig:
    """An integration whose requests pass through a ``FaultTransport``, on a ``FakeClock``."""

    pa: PyAirtableIntegration
    faults: FaultTransport
    clock: FakeClock
    email: str | None = None


RigFactory = Callable[..., Awaitable[Rig]]


@pytest.fixture
async def faulty(backend: Backend) -> AsyncIterator[RigFactory]:
    """Build integrations wired through a ``FaultTransport`` on a ``FakeClock``; closed after.

    They are not initialized: the proactive token refresh would spin on a clock whose sleeps
    return at once. ``signed_in`` (default True) signs in as a fresh user.
    """
    made: list[PyAirtableIntegration] = []

    async def make(*, signed_in: bool = True, **options: Any) -> Rig:
        clock = FakeClock()
        faults = FaultTransport(backend.transport())
        options.setdefault("base_url", BASE_URL)
        options.setdefault("retry_delay", 0)
        options.setdefault("environ", {})
        options.setdefault("enable_caching", False)  # as in make_integration
        integration = create_integration(http_transport=faults, clock=clock, **options)
        made.append(integration)
        email = await sign_in(integration, backend) if signed_in else None
        return Rig(integration, faults, clock, email)

    yield make
    for integration in made:
        await integration.aclose()
