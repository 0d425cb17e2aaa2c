"""Live queries on a real uvicorn with realtime: another user's change reaches an observer, and
per-query realtime subscriptions (when the cache feed is off) end with the last observer."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from pyairtable_integration import PyAirtableIntegration, create_integration
from pyairtable_integration.live import QueryState
from pyairtable_integration.testing import PASSWORD, Actor, LiveBackend, live_backend

from .realtime_timing import FAST_REALTIME, HANG

pytestmark = pytest.mark.anyio


async def _shared_table(live: LiveBackend) -> tuple[str, Actor, str]:
    """A user's e-mail, an editor in their workspace, and a table of theirs."""
    email = f"live-{secrets.token_hex(4)}@example.com"
    await live.api.register(email)
    owner = await live.api.login(email)
    editor = await live.api.actor()
    workspace = await live.api.workspace(owner)
    await live.api.add_member(owner, workspace["id"], editor, "editor")
    base = await live.api.base(owner, workspace["id"])
    table = await live.api.table(owner, base["id"])
    return email, editor, str(table["id"])


async def _connected(pa: PyAirtableIntegration) -> None:
    with anyio.fail_after(HANG):
        while pa.realtime.manager.state.status != "connected":  # noqa: ASYNC110
            await anyio.sleep(0.02)
        for subscription in pa.realtime.manager.active_subscriptions():
            await subscription.wait_ready()


def _names(state: QueryState[Any]) -> list[Any]:
    return [record.fields.get("Name") for record in state.data or []]


async def _observed(
    states: list[QueryState[Any]], wanted: Callable[[QueryState[Any]], bool]
) -> None:
    """Wait until an observer has been given a state that is ``wanted``."""
    with anyio.fail_after(HANG):
        while not any(wanted(state) for state in states):  # noqa: ASYNC110 - plain callbacks
            await anyio.sleep(0.02)


async def test_another_users_edit_reaches_an_observer_through_the_cache_feed(
    tmp_path: Path,
) -> None:
    async with live_backend(tmp_path / "data") as live:
        email, editor, table_id = await _shared_table(live)
        first = await live.api.post(
            editor, "/records", {"table_id": table_id, "fields": {"Name": "before"}}
        )
        async with create_integration(
            base_url=f"{live.origin}/api/v1", realtime_config=FAST_REALTIME, environ={}
        ) as pa:
            await pa.auth.login(email, PASSWORD)
            query = pa.live.records(table_id)
            seen: list[QueryState[Any]] = []
            stop = query.subscribe(seen.append)
            await pa.live.settle()
            await _connected(pa)
            # The feed is the only subscription: the query holds none of its own.
            assert len(pa.realtime.manager.active_subscriptions()) == 1
            response = await live.api.client.patch(
                f"/records/{first['id']}",
                json={"fields": {"Name": "after"}},
                headers=editor.headers,
            )
            assert response.status_code == 200, response.text
            await _observed(seen, lambda state: _names(state) == ["after"])
            assert seen[-1].status == "success" and not seen[-1].is_optimistic
            assert seen[-1].fetch_status == "idle"
            stop()
            assert pa.cache.records.listener_count == 0


async def test_without_the_cache_feed_each_query_subscribes_while_observed_and_no_longer(
    tmp_path: Path,
) -> None:
    async with live_backend(tmp_path / "data") as live:
        email, editor, table_id = await _shared_table(live)
        async with create_integration(
            base_url=f"{live.origin}/api/v1",
            realtime_config={**FAST_REALTIME, "feed_cache": False},
            environ={},
        ) as pa:
            await pa.auth.login(email, PASSWORD)
            assert pa.realtime.manager.active_subscriptions() == []
            for _ in range(200):
                stops = [pa.live.records(table_id).subscribe(lambda _s: None) for _ in range(2)]
                stops.append(pa.live.records(table_id, fields=["Name"]).subscribe(lambda _s: None))
                assert len(pa.realtime.manager.active_subscriptions()) == 2
                for stop in stops:
                    stop()
            assert pa.realtime.manager.active_subscriptions() == []
            await pa.live.settle()

            query = pa.live.records(table_id)
            observed: list[QueryState[Any]] = []
            stop = query.subscribe(observed.append)
            await pa.live.settle()
            await _connected(pa)
            await live.api.post(
                editor, "/records", {"table_id": table_id, "fields": {"Name": "remote"}}
            )
            await _observed(observed, lambda state: _names(state) == ["remote"])
            stop()
            await pa.live.settle()
            assert pa.realtime.manager.active_subscriptions() == []
            assert pa.cache.records.listener_count == 0
            assert len(pa.live.queries) == 0 and pa.live.tasks == []
