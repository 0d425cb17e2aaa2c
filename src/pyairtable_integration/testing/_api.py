"""Raw HTTP to the reference backend for arranging test data: ``BackendApi`` and ``Actor``.

    api = BackendApi(httpx2.AsyncClient(base_url=backend_url), app)
    owner, table = await api.new_table()       # a fresh user with a workspace, base and table
    await api.post(owner, "/records", {...})   # a write by another user than the SDK's

Not the SDK: plain requests with plain JSON, so what a test arranges does not depend on the
code under test.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx2

from ._backend import PASSWORD


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


class BackendApi:
    """Raw HTTP to the reference backend, with shortcuts for common set-up steps.

    For arranging what a test needs as users other than the integration under test (a second
    user edits a record, an owner shares a workspace), without going through the SDK. Each
    shortcut insists on the expected status (``AssertionError`` with the answer otherwise).
    ``app`` is the backend's ASGI app (its ``state`` for tests that look inside).
    """

    def __init__(self, client: httpx2.AsyncClient, app: Any) -> None:
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

    async def write_records(
        self, owner: Actor, table_id: str, count: int, text: str = ""
    ) -> list[str]:
        """Create ``count`` records named ``r<i><text>`` as ``owner``, in batches of 100;
        their ids, in order."""
        ids: list[str] = []
        for start in range(0, count, 100):
            body = await self.post(
                owner,
                "/records/batch",
                {
                    "table_id": table_id,
                    "records": [
                        {"fields": {"Name": f"r{i}{text}"}}
                        for i in range(start, min(count, start + 100))
                    ],
                },
            )
            ids += [record["id"] for record in body["data"]]
        return ids

    def _next(self) -> int:
        self._counter += 1
        return self._counter
