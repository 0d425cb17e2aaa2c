"""The reference backend in-process, for testing code that uses the integration.

    # conftest.py
    pytest_plugins = ["pyairtable_integration.testing.plugin"]

    async def test_my_feature(pyairtable: InProcessBackend) -> None:
        pa = await pyairtable.integration()          # initialized, on the in-process backend
        await pyairtable.sign_in(pa)                 # a fresh registered user
        ...

The backend is ``pyairtable_server`` (the ``[server]`` extra) on a SQLite file in a temporary
folder, served through an ``httpx2.ASGITransport``: no port, no process, fast. Its settings keep
Argon2 cheap and limits generous; pass more with ``settings``. The SDK never imports the server:
only this module does, and only when a backend is started.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2

from pyairtable_integration import PyAirtableIntegration, create_integration

BASE_URL = "http://testserver/api/v1"
#: The password ``InProcessBackend.sign_in`` registers users with.
PASSWORD = "correct horse battery"
#: Cheap Argon2 and generous limits: the backend's defaults suit production, not tests.
_TEST_SETTINGS: dict[str, Any] = {
    "argon2_time_cost": 1,
    "argon2_memory_kib": 1024,
    "argon2_parallelism": 1,
    "rate_limit_per_ip": "100000/minute",
    "rate_limit_per_token": "100000/minute",
    "login_failures_per_account": "1000/minute",
    "login_failures_per_ip": "1000/minute",
    "registrations_per_ip": "100000/minute",
}


def fast_backend_settings() -> dict[str, Any]:
    """Backend settings for tests: cheap Argon2, generous rate limits (a fresh copy)."""
    return dict(_TEST_SETTINGS)


@dataclass
class Backend:
    """A running reference backend (``app``) and the integrations made on it, which its
    context manager closes at the end."""

    app: Any
    integrations: list[PyAirtableIntegration] = field(default_factory=list, kw_only=True)

    async def sign_in(self, integration: PyAirtableIntegration) -> str:
        """Register a fresh user and sign ``integration`` in as them; their e-mail."""
        email = f"user-{secrets.token_hex(4)}@example.com"
        await integration.services.auth.register(
            email=email, password=PASSWORD, first_name="Test", last_name="User"
        )
        await integration.auth.login(email, PASSWORD)
        return email

    async def _started(self, options: dict[str, Any]) -> PyAirtableIntegration:
        options.setdefault("environ", {})
        integration = create_integration(**options)
        self.integrations.append(integration)
        await integration.initialize()
        return integration

    async def _close_integrations(self) -> None:
        for integration in self.integrations:
            await integration.aclose()


@dataclass
class InProcessBackend(Backend):
    """The reference backend in-process, reached through an ASGI transport (no port)."""

    def transport(self) -> httpx2.ASGITransport:
        """A fresh in-process transport to the backend (each integration owns its own)."""
        return httpx2.ASGITransport(app=self.app, client=("127.0.0.1", 50001))

    async def integration(self, **options: Any) -> PyAirtableIntegration:
        """An initialized integration on this backend; ``options`` as ``create_integration``.

        Realtime is off unless asked for (an in-process transport carries no WebSocket).
        """
        options.setdefault("base_url", BASE_URL)
        options.setdefault("http_transport", self.transport())
        options.setdefault("features", {"enable_realtime": False})
        return await self._started(options)


def backend_settings(data_dir: Path, **settings: Any) -> Any:
    """The backend's ``Settings`` for tests: SQLite in ``data_dir``, a fresh secret, the fast
    test settings, then ``settings``.

    Raises:
        ImportError: the ``[server]`` extra is not installed.
    """
    from pyairtable_server.settings import Settings

    return Settings(
        **{
            "secret_key": "in-process-" + secrets.token_hex(32),
            "data_dir": data_dir,
            **_TEST_SETTINGS,
            **settings,
        }
    )


@asynccontextmanager
async def in_process_backend(data_dir: Path, **settings: Any) -> AsyncIterator[InProcessBackend]:
    """Start the reference backend on SQLite in ``data_dir``; closes its integrations after.

    Raises:
        ImportError: the ``[server]`` extra is not installed.
    """
    from pyairtable_server.app import create_app

    app = create_app(backend_settings(data_dir, **settings))
    # The app's own lifespan (database opened and migrated, workers started), as a server runs it.
    async with app.router.lifespan_context(app):
        backend = InProcessBackend(app)
        try:
            yield backend
        finally:
            await backend._close_integrations()
