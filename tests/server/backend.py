"""Helpers to run the reference backend in-process for tests, on SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx2
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from pyairtable_integration.testing import PASSWORD as PASSWORD  # the public plugin's
from pyairtable_integration.testing import fast_backend_settings
from pyairtable_server.app import create_app
from pyairtable_server.db.models import Model
from pyairtable_server.settings import Settings

POSTGRES_ADMIN_DSN = os.environ.get(
    "PYAIRTABLE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
TEST_SECRET = "test-secret-key-" + "x" * 48

# Cheap Argon2id and generous limits (the public test plugin's): tests about limits set their own.
FAST_SETTINGS: dict[str, Any] = {"secret_key": TEST_SECRET, **fast_backend_settings()}


def postgres_reason_unavailable() -> str | None:
    """None when PostgreSQL answers, else why not."""

    async def probe() -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        return f"PostgreSQL at {POSTGRES_ADMIN_DSN} is not reachable ({type(exc).__name__}: {exc})"
    return None


class PostgresDatabase:
    """A throwaway database on the local server, emptied between tests and dropped at the end."""

    def __init__(self) -> None:
        self.name = "pyairtable_test_" + secrets.token_hex(6)
        admin = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0]
        self.dsn = f"{admin}/{self.name}"
        self.url = "postgresql+asyncpg://" + self.dsn.split("://", 1)[1]

    def create(self) -> None:
        asyncio.run(self._admin(f'CREATE DATABASE "{self.name}"'))

    def drop(self) -> None:
        asyncio.run(self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))

    def truncate(self) -> None:
        """Empty every table; the event log's position row goes back to its migrated state."""
        tables = ", ".join(
            f'"{table.name}"'
            for table in Model.metadata.sorted_tables
            if table.name != "event_log_state"
        )

        async def run() -> None:
            conn = await asyncpg.connect(self.dsn)
            try:
                exists = await conn.fetchval("SELECT to_regclass('public.users') IS NOT NULL")
                if exists:
                    await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
                    await conn.execute(
                        "UPDATE event_log_state SET head_seq = 0, pruned_through = 0"
                    )
            finally:
                await conn.close()

        asyncio.run(run())

    async def _admin(self, statement: str) -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_DSN)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()


@dataclass
class Actor:
    """A registered, signed-in user and the headers that act as them."""

    user: dict[str, Any]
    access_token: str
    refresh_token: str
    email: str
    password: str = PASSWORD
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.user["id"])

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


class Api:
    """An httpx2 client on the in-process app, with shortcuts for common set-up steps."""

    def __init__(self, client: httpx2.AsyncClient, app: FastAPI) -> None:
        self.client = client
        self.app = app
        self._counter = 0

    async def register(self, email: str | None = None, password: str = PASSWORD) -> dict[str, Any]:
        self._counter += 1
        email = email or f"user{self._counter}-{secrets.token_hex(3)}@example.com"
        response = await self.client.post(
            "/auth/register",
            json={"email": email, "password": password, "first_name": "Test", "last_name": "User"},
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def login(self, email: str, password: str = PASSWORD) -> Actor:
        response = await self.client.post(
            "/auth/login", json={"email": email, "password": password}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        return Actor(body["user"], body["access_token"], body["refresh_token"], email, password)

    async def actor(self) -> Actor:
        user = await self.register()
        return await self.login(user["email"])

    async def workspace(self, owner: Actor, name: str = "Ops") -> dict[str, Any]:
        response = await self.client.post("/workspaces", json={"name": name}, headers=owner.headers)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def add_member(self, owner: Actor, workspace_id: str, member: Actor, role: str) -> None:
        response = await self.client.post(
            f"/workspaces/{workspace_id}/members",
            json={"user_id": member.id, "role": role},
            headers=owner.headers,
        )
        assert response.status_code == 201, response.text

    async def post(self, actor: Actor, path: str, body: dict[str, Any], status: int = 201) -> Any:
        """POST as ``actor`` and insist on ``status``; the decoded body."""
        response = await self.client.post(path, json=body, headers=actor.headers)
        assert response.status_code == status, response.text
        return response.json()

    async def base(self, owner: Actor, workspace_id: str, name: str = "Base") -> dict[str, Any]:
        body: dict[str, Any] = await self.post(
            owner, "/bases", {"workspace_id": workspace_id, "name": name}
        )
        return body

    async def table(
        self, owner: Actor, base_id: str, fields: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        request: dict[str, Any] = {"base_id": base_id, "name": f"T{self._next()}"}
        if fields is not None:
            request["fields"] = fields
        body: dict[str, Any] = await self.post(owner, "/tables", request)
        return body

    async def new_table(
        self, fields: list[dict[str, Any]] | None = None
    ) -> tuple[Actor, dict[str, Any]]:
        """A fresh owner with a workspace, a base and a table of ``fields``."""
        owner = await self.actor()
        workspace = await self.workspace(owner)
        base = await self.base(owner, workspace["id"])
        return owner, await self.table(owner, base["id"], fields)

    def _next(self) -> int:
        self._counter += 1
        return self._counter


@asynccontextmanager
async def running_api(settings: Settings) -> AsyncIterator[Api]:
    """The app with its lifespan started, and a client talking to it over ASGI."""
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60):
        transport = httpx2.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx2.AsyncClient(
            transport=transport, base_url="http://testserver/api/v1"
        ) as client:
            yield Api(client, app)


def build_settings(database_url: str | None, data_dir: Path, **overrides: Any) -> Settings:
    return Settings(
        **{**FAST_SETTINGS, "database_url": database_url, "data_dir": data_dir, **overrides}
    )
