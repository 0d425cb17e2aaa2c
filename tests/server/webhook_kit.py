"""Shared steps of the webhook tests: fast settings, set-up through the API, waiting for outcomes.

Waits poll for an outcome; their time limit only bounds how long a failing test takes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio

from pyairtable_server.webhooks import WebhookWorker

from .backend import Actor, Api

JSON = dict[str, Any]
T = TypeVar("T")
FAST_WEBHOOKS: JSON = {
    # The receiver listens on localhost: the one setting that lets webhooks point there.
    "webhook_allow_private_targets": True,
    "webhook_retry_schedule_seconds": [0.05, 0.05, 0.05],
    "webhook_retry_jitter": 0.0,
    "webhook_poll_interval_seconds": 0.05,
    "webhook_request_timeout_seconds": 3.0,
    "webhook_lease_seconds": 6.0,
}


async def eventually(probe: Callable[[], Awaitable[T]], *, within: float = 30.0) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``within`` seconds."""
    with anyio.fail_after(within):
        while True:
            value = await probe()
            if value:
                return value
            await anyio.sleep(0.02)


async def workspace_with_table(api: Api) -> tuple[Actor, JSON, JSON]:
    """An owner with a workspace and a table with a text field ``Name``."""
    owner = await api.actor()
    workspace = await api.workspace(owner)
    base = await api.base(owner, workspace["id"])
    table = await api.table(owner, base["id"], [{"name": "Name", "type": "text"}])
    return owner, workspace, table


async def add_webhook(api: Api, owner: Actor, workspace_id: str, url: str, **extra: Any) -> JSON:
    """A webhook for every event (unless ``extra`` says otherwise), as created."""
    body: JSON = await api.post(
        owner,
        "/webhooks",
        {"workspace_id": workspace_id, "url": url, "event_types": ["*"], **extra},
    )
    return body


async def add_record(api: Api, owner: Actor, table_id: str, name: str) -> JSON:
    body: JSON = await api.post(owner, "/records", {"table_id": table_id, "fields": {"Name": name}})
    return body


async def deliveries_of(api: Api, owner: Actor, webhook_id: str, **params: Any) -> list[JSON]:
    """The webhook's delivery log, newest first."""
    response = await api.client.get(
        f"/webhooks/{webhook_id}/deliveries", params=params, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    data: list[JSON] = response.json()["data"]
    return data


async def finished(api: Api, owner: Actor, webhook_id: str, count: int) -> list[JSON]:
    """Wait until the webhook has ``count`` deliveries, none of them pending."""

    async def probe() -> list[JSON]:
        data = await deliveries_of(api, owner, webhook_id)
        done = len(data) == count and all(d["status"] != "pending" for d in data)
        return data if done else []

    return await eventually(probe)


def rounds_on_demand(api: Api) -> WebhookWorker:
    """The app's webhook worker, started but running rounds only when the test calls ``run_once``.

    Neither a commit (the hub's ``on_commit``) nor a webhook route (``wake``, after a create,
    re-enable or retry) starts one in the background, so the test decides what a round sees.
    """
    services = api.app.state.services
    services.hub.on_commit.clear()
    worker: WebhookWorker = services.webhooks
    worker.wake = lambda: None  # type: ignore[method-assign]
    return worker
