"""The subsystems work together: realtime feeds the cache, the cache belongs to one user.

On a real uvicorn (realtime needs sockets); other users' writes go straight to the server.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import anyio
import pytest

from pyairtable_integration import create_integration
from pyairtable_integration.testing import PASSWORD, live_backend

from .realtime_timing import FAST_REALTIME, HANG

pytestmark = pytest.mark.anyio


async def test_another_users_edit_reaches_a_cached_list_through_realtime_without_a_refetch(
    tmp_path: Path,
) -> None:
    async with live_backend(tmp_path / "data") as live:
        email = f"feed-{secrets.token_hex(4)}@example.com"
        await live.api.register(email)
        owner = await live.api.login(email)
        editor = await live.api.actor()
        workspace = await live.api.workspace(owner)
        await live.api.add_member(owner, workspace["id"], editor, "editor")
        base = await live.api.base(owner, workspace["id"])
        table = await live.api.table(owner, base["id"])
        first = await live.api.post(
            editor, "/records", {"table_id": table["id"], "fields": {"Name": "before"}}
        )
        async with create_integration(
            base_url=f"{live.origin}/api/v1", realtime_config=FAST_REALTIME, environ={}
        ) as pa:
            await pa.auth.login(email, PASSWORD)
            listed = await pa.services.record.get_records(table["id"])
            assert [record.fields["Name"] for record in listed.data] == ["before"]
            with anyio.fail_after(HANG):
                while pa.realtime.manager.state.status != "connected":  # noqa: ASYNC110
                    await anyio.sleep(0.02)
                assert pa._cache_feed is not None
                await pa._cache_feed.wait_ready()
            reads_before = pa.get_metrics()["record"].requests

            response = await live.api.client.patch(
                f"/records/{first['id']}",
                json={"fields": {"Name": "after"}},
                headers=editor.headers,
            )
            assert response.status_code == 200, response.text
            created = await live.api.post(
                editor, "/records", {"table_id": table["id"], "fields": {"Name": "new"}}
            )

            with anyio.fail_after(HANG):
                while True:
                    cached = await pa.services.record.get_records(table["id"])
                    names = sorted(str(record.fields.get("Name")) for record in cached.data)
                    if names == ["after", "new"]:
                        break
                    await anyio.sleep(0.02)
            # Every read above was answered from the patched cache: no record request was sent.
            assert pa.get_metrics()["record"].requests == reads_before
            assert pa.cache.records.get(created["id"]) is not None


async def test_the_next_user_never_sees_the_previous_users_cached_answers(tmp_path: Path) -> None:
    async with live_backend(tmp_path / "data") as live:
        first, second = (f"scope-{n}-{secrets.token_hex(4)}@example.com" for n in (1, 2))
        for email in (first, second):
            await live.api.register(email)
        owner = await live.api.login(first)
        await live.api.workspace(owner, name="First's")
        options: dict[str, Any] = {
            "base_url": f"{live.origin}/api/v1",
            "features": {"enable_realtime": False},
            "cache_config": {
                "enable_persistence": True,
                "persistence_path": str(tmp_path / "cache.sqlite3"),
            },
            "environ": {},
        }
        async with create_integration(**options) as pa:
            await pa.auth.login(first, PASSWORD)
            mine = await pa.services.workspace.get_workspaces()
            assert [workspace.name for workspace in mine.data] == ["First's"]
            await pa.auth.logout()
            await pa.auth.login(second, PASSWORD)
            theirs = await pa.services.workspace.get_workspaces()
            assert theirs.data == []
        # A new process on the same cache file, signed in as the second user, is not served
        # the first user's entry either; the first user gets theirs back from the file.
        async with create_integration(**options) as pa:
            await pa.auth.login(second, PASSWORD)
            assert (await pa.services.workspace.get_workspaces()).data == []
            await pa.auth.logout()
            await pa.auth.login(first, PASSWORD)
            again = await pa.services.workspace.get_workspaces()
            assert [workspace.name for workspace in again.data] == ["First's"]
            # Both users' lists came from the file: no workspace request was sent at all.
            assert "workspace" not in pa.get_metrics()
