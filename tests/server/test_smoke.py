"""The backend starts on each database and answers health."""

from __future__ import annotations

import pytest

from .backend import Api

pytestmark = pytest.mark.anyio


async def test_health_reports_every_service_ok(api: Api) -> None:
    response = await api.client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["services"]) == {
        "auth",
        "user",
        "workspace",
        "base",
        "table",
        "field",
        "view",
        "record",
        "file",
        "webhook",
        "realtime",
    }
    assert all(s["status"] == "ok" for s in body["services"].values())
