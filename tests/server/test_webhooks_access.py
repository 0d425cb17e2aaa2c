"""A webhook delivers only while the member who answers for it holds ``webhook:write``.

An admin who set up a webhook and is then removed, demoted or deactivated must not go on receiving
the workspace's events at their URL. The app's own worker is kept asleep (long poll, no wake on
commit); each test drives its rounds itself, so what was sent is known exactly when it looks.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import update

from pyairtable_server.clock import utcnow
from pyairtable_server.db.engine import Database
from pyairtable_server.db.models import User
from pyairtable_server.settings import Settings
from pyairtable_server.webhooks.accountability import CREATOR_LOST_ACCESS
from pyairtable_server.webhooks.dispatch import dispatch_once

from .backend import Actor, Api, running_api
from .webhook_kit import (
    FAST_WEBHOOKS,
    JSON,
    add_record,
    add_webhook,
    deliveries_of,
    finished,
    rounds_on_demand,
    workspace_with_table,
)
from .webhook_receiver import Receiver

pytestmark = pytest.mark.anyio


async def _deactivate(api: Api, user: Actor) -> None:
    """What an operator does to an account (the API has no route for it)."""
    db: Database = api.app.state.services.db
    async with db.writer() as session:
        await session.execute(update(User).where(User.id == user.id).values(is_active=False))
        await session.commit()


async def _lose_access(api: Api, how: str, owner: Actor, workspace_id: str, admin: Actor) -> None:
    members = f"/workspaces/{workspace_id}/members/{admin.id}"
    if how == "removed":
        answer = await api.client.delete(members, headers=owner.headers)
        assert answer.status_code == 204, answer.text
    elif how == "demoted":
        answer = await api.client.patch(members, json={"role": "editor"}, headers=owner.headers)
        assert answer.status_code == 200, answer.text
    else:
        await _deactivate(api, admin)


async def _asleep(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(**{**FAST_WEBHOOKS, "webhook_poll_interval_seconds": 3600})


@pytest.mark.parametrize("how", ["removed", "demoted", "deactivated"])
async def test_a_webhook_stops_when_its_creator_loses_webhook_write(
    make_settings: Callable[..., Settings], receiver: Receiver, how: str
) -> None:
    async with running_api(await _asleep(make_settings)) as api:
        worker = rounds_on_demand(api)
        db: Database = api.app.state.services.db
        owner, workspace, table = await workspace_with_table(api)
        admin = await api.actor()
        await api.add_member(owner, workspace["id"], admin, "admin")
        webhook = await add_webhook(api, admin, workspace["id"], receiver.url)
        assert webhook["created_by"] == admin.id

        # One delivery is queued while the admin may still manage webhooks...
        await add_record(api, owner, table["id"], "before")
        await dispatch_once(db, batch_size=100, now=utcnow() - timedelta(seconds=1))
        [queued] = await deliveries_of(api, owner, webhook["id"])
        # ...then they lose that right, and the workspace goes on changing.
        await _lose_access(api, how, owner, workspace["id"], admin)
        await add_record(api, owner, table["id"], "after")

        await worker.run_once()
        assert worker.slots.in_flight == 0  # nothing was started
        state: JSON = (
            await api.client.get(f"/webhooks/{webhook['id']}", headers=owner.headers)
        ).json()
        assert state["is_active"] is False and state["disabled_reason"] == CREATOR_LOST_ACCESS
        [held] = await deliveries_of(api, owner, webhook["id"])  # none for the later event
        assert (held["id"], held["status"], held["attempts"]) == (queued["id"], "pending", 0)
        assert receiver.received == []

        # The owner takes it over: it answers to them now, and the held delivery goes out.
        enabled = await api.client.put(
            f"/webhooks/{webhook['id']}", json={"is_active": True}, headers=owner.headers
        )
        assert enabled.status_code == 200, enabled.text
        assert enabled.json()["created_by"] == owner.id
        assert enabled.json()["disabled_reason"] is None
        await worker.run_once()
        [sent] = await finished(api, owner, webhook["id"], 1)
        assert sent["id"] == queued["id"] and sent["status"] == "succeeded"
        assert [r.webhook_id for r in receiver.received] == [queued["id"]]


async def test_whoever_points_a_webhook_elsewhere_answers_for_it(
    make_settings: Callable[..., Settings], receiver: Receiver
) -> None:
    """Another admin who changes the URL becomes its member: losing access stops it too."""
    async with running_api(await _asleep(make_settings)) as api:
        worker = rounds_on_demand(api)
        owner, workspace, table = await workspace_with_table(api)
        admin = await api.actor()
        await api.add_member(owner, workspace["id"], admin, "admin")
        webhook = await add_webhook(api, owner, workspace["id"], "https://hooks.example.com/in")
        moved = await api.client.put(
            f"/webhooks/{webhook['id']}", json={"url": receiver.url}, headers=admin.headers
        )
        assert moved.status_code == 200 and moved.json()["created_by"] == admin.id

        await _lose_access(api, "removed", owner, workspace["id"], admin)
        await add_record(api, owner, table["id"], "x")
        await worker.run_once()
        assert worker.slots.in_flight == 0
        state = (await api.client.get(f"/webhooks/{webhook['id']}", headers=owner.headers)).json()
        assert state["is_active"] is False and state["disabled_reason"] == CREATOR_LOST_ACCESS
        assert await deliveries_of(api, owner, webhook["id"]) == []
        assert receiver.received == []


async def test_other_members_leaving_changes_nothing(
    make_settings: Callable[..., Settings], receiver: Receiver
) -> None:
    async with running_api(await _asleep(make_settings)) as api:
        worker = rounds_on_demand(api)
        owner, workspace, table = await workspace_with_table(api)
        admin = await api.actor()
        await api.add_member(owner, workspace["id"], admin, "admin")
        webhook = await add_webhook(
            api, owner, workspace["id"], receiver.url, event_types=["record.*"]
        )
        await _lose_access(api, "removed", owner, workspace["id"], admin)
        await add_record(api, owner, table["id"], "x")
        await worker.run_once()
        [sent] = await finished(api, owner, webhook["id"], 1)
        assert sent["status"] == "succeeded" and sent["event_type"] == "record.created"
        state = (await api.client.get(f"/webhooks/{webhook['id']}", headers=owner.headers)).json()
        assert state["is_active"] is True and state["disabled_reason"] is None
