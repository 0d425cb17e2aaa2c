"""Background housekeeping: event-log retention and expiry of stored idempotent answers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from pyairtable_server import maintenance
from pyairtable_server.clock import utcnow
from pyairtable_server.db.models import IdempotentAnswer
from pyairtable_server.settings import Settings

from .backend import running_api

pytestmark = pytest.mark.anyio


async def test_a_round_prunes_events_beyond_the_count_and_forgets_day_old_answers(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(event_retention_count=2)
    async with running_api(settings) as api:
        owner = await api.actor()
        for name in ("A", "B", "C", "D"):
            await api.workspace(owner, name=name)
        fresh = await api.client.post(
            "/workspaces", json={"name": "E"}, headers={**owner.headers, "Idempotency-Key": "k"}
        )
        assert fresh.status_code == 201
        db = api.app.state.services.db
        async with db.writer() as session:
            session.add(
                IdempotentAnswer(
                    user_id=owner.id,
                    key="old",
                    fingerprint="0" * 64,
                    status_code=200,
                    body="{}",
                    created_at=utcnow() - timedelta(hours=25),
                )
            )
            await session.commit()

        pruned = await maintenance.run_once(db, settings)

        assert pruned == 3  # five events, two kept
        early = await api.client.get("/events", params={"since": 1}, headers=owner.headers)
        assert early.json()["reset"] is True
        kept = await api.client.get("/events", params={"since": 3}, headers=owner.headers)
        assert [e["seq"] for e in kept.json()["data"]] == [4, 5]
        async with db.reader() as session:
            keys = set(await session.scalars(select(IdempotentAnswer.key)))
        assert keys == {"k"}
