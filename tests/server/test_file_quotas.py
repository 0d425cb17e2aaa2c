"""Storage quotas per account and per workspace, and the collection of private files never
attached (issue 13). Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import update

from pyairtable_server import maintenance
from pyairtable_server.clock import utcnow
from pyairtable_server.db.models import StoredFile
from pyairtable_server.settings import Settings
from pyairtable_server.storage import LocalFolderStorage

from .backend import Actor, Api, running_api
from .test_files import (
    ATTACHMENT_FIELDS,
    WrappedStorage,
    file_rows,
    new_table,
    stored_names,
    upload,
)

pytestmark = pytest.mark.anyio

KIB = 1024


async def usage(api: Api, actor: Actor, workspace_id: str | None = None) -> dict[str, Any]:
    params = {"workspace_id": workspace_id} if workspace_id else {}
    response = await api.client.get("/files/usage", params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def quota_error(body: dict[str, Any], scope: str) -> dict[str, Any]:
    error: dict[str, Any] = body["error"]
    assert error["type"] == "QUOTA_EXCEEDED", body
    assert error["details"]["scope"] == scope
    return error


async def test_an_upload_past_the_accounts_quota_is_413_and_nothing_is_stored(
    make_settings: Callable[..., Settings],
) -> None:
    async with running_api(make_settings(quota_bytes_per_user=3 * KIB)) as api:
        owner, workspace_id, table = await new_table(api)
        private = await upload(api, owner, b"a" * KIB)
        in_table = await upload(api, owner, b"b" * KIB, table_id=table["id"])

        body = await upload(api, owner, b"c" * (KIB + 1), table_id=table["id"], status=413)

        error = quota_error(body, "user")
        assert error["details"] == {"scope": "user", "quota_bytes": 3 * KIB, "used_bytes": 2 * KIB}
        assert await file_rows(api) == 2
        assert stored_names(api) == sorted([private["file"]["id"], in_table["file"]["id"]])
        assert await usage(api, owner, workspace_id) == {
            "user": {"used_bytes": 2 * KIB, "quota_bytes": 3 * KIB},
            "workspace": {"used_bytes": KIB, "quota_bytes": 10 * 1024**3},
        }
        # What fits exactly is accepted; another account has its own quota.
        await upload(api, owner, b"d" * KIB)
        await upload(api, await api.actor(), b"e" * 3 * KIB)


async def test_deleting_a_file_frees_its_bytes_of_the_quota(
    make_settings: Callable[..., Settings],
) -> None:
    async with running_api(make_settings(quota_bytes_per_user=2 * KIB)) as api:
        owner = await api.actor()
        first = await upload(api, owner, b"a" * 2 * KIB)
        await upload(api, owner, b"b", status=413)
        deleted = await api.client.delete(f"/files/{first['file']['id']}", headers=owner.headers)
        assert deleted.status_code == 204
        await upload(api, owner, b"b" * 2 * KIB)


async def test_a_streamed_upload_is_refused_at_the_quota_not_after_its_last_byte(
    make_settings: Callable[..., Settings],
) -> None:
    # The upload limit (100 MiB) is far away: only the quota stops this upload.
    async with running_api(make_settings(quota_bytes_per_user=64 * KIB)) as api:
        owner = await api.actor()
        sent = 0
        chunk = b"z" * (16 * KIB)

        async def body() -> AsyncIterator[bytes]:
            nonlocal sent
            yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="big"\r\n\r\n'
            for _ in range(1024):  # 16 MiB in all
                sent += len(chunk)
                yield chunk
            yield b"\r\n--b--\r\n"

        response = await api.client.post(
            "/files/upload",
            content=body(),
            headers={**owner.headers, "Content-Type": "multipart/form-data; boundary=b"},
        )

        assert response.status_code == 413
        quota_error(response.json(), "user")
        assert response.headers["connection"] == "close"
        assert sent < 1024 * KIB  # stopped early: the rest of the body was never read
        assert stored_names(api) == []
        assert await file_rows(api) == 0


async def test_the_workspace_quota_counts_every_members_files_and_attached_private_ones(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(quota_bytes_per_user=0, quota_bytes_per_workspace=3 * KIB)
    async with running_api(settings) as api:
        owner, workspace_id, table = await new_table(api, ATTACHMENT_FIELDS)
        editor = await api.actor()
        await api.add_member(owner, workspace_id, editor, "editor")
        await upload(api, owner, b"a" * 2 * KIB, table_id=table["id"])

        refused = await upload(api, editor, b"b" * (KIB + 1), table_id=table["id"], status=413)
        quota_error(refused, "workspace")
        # A private file counts against its uploader only, until a record write attaches it.
        private = (await upload(api, editor, b"c" * 2 * KIB))["file"]
        attach = await api.client.post(
            "/records",
            json={"table_id": table["id"], "fields": {"Files": [{"id": private["id"]}]}},
            headers=editor.headers,
        )
        assert attach.status_code == 413, attach.text
        quota_error(attach.json(), "workspace")
        still = await api.client.get(f"/files/{private['id']}", headers=editor.headers)
        assert still.json()["workspace_id"] is None
        assert (await usage(api, owner, workspace_id))["workspace"] == {
            "used_bytes": 2 * KIB,
            "quota_bytes": 3 * KIB,
        }
        # Unlimited (0): the account's quota is not reported as one.
        assert (await usage(api, editor))["user"] == {"used_bytes": 2 * KIB, "quota_bytes": None}


async def test_usage_of_a_workspace_is_only_for_its_members(api: Api) -> None:
    _, workspace_id, _ = await new_table(api)
    stranger = await api.actor()
    response = await api.client.get(
        "/files/usage", params={"workspace_id": workspace_id}, headers=stranger.headers
    )
    assert response.status_code == 404


class MeetingStorage(WrappedStorage):
    """Local storage whose uploads all finish together: each waits, bytes written, until
    ``expected`` uploads have, so their commits race."""

    def __init__(self, inner: LocalFolderStorage, expected: int) -> None:
        super().__init__(inner)
        self.arrived = 0
        self.expected = expected
        self.all_here = asyncio.Event()

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> None:
        async def meeting() -> AsyncIterator[bytes]:
            async for chunk in chunks:
                yield chunk
            self.arrived += 1
            if self.arrived == self.expected:
                self.all_here.set()
            await self.all_here.wait()

        await self.inner.put(key, meeting())


async def test_two_parallel_uploads_cannot_both_take_the_last_room_of_a_quota(
    make_settings: Callable[..., Settings],
) -> None:
    async with running_api(make_settings(quota_bytes_per_user=3 * KIB)) as api:
        owner = await api.actor()
        services = api.app.state.services
        services.storage = MeetingStorage(services.storage, expected=2)

        async def send(content: bytes) -> httpx2.Response:
            return await api.client.post(
                "/files/upload", files={"file": ("f.bin", content)}, headers=owner.headers
            )

        answers = await asyncio.gather(send(b"a" * 2 * KIB), send(b"b" * 2 * KIB))

        assert sorted(a.status_code for a in answers) == [201, 413]
        refused = next(a for a in answers if a.status_code == 413)
        quota_error(refused.json(), "user")
        assert await file_rows(api) == 1
        assert len(stored_names(api)) == 1
        assert (await usage(api, owner))["user"]["used_bytes"] == 2 * KIB


async def test_private_files_never_attached_are_collected_after_the_grace_period(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(quota_bytes_per_user=4 * KIB + 100, private_file_grace_seconds=3600)
    async with running_api(settings) as api:
        owner, _, table = await new_table(api, ATTACHMENT_FIELDS)
        stale = (await upload(api, owner, b"a" * 2 * KIB))["file"]
        attached = (await upload(api, owner, b"b" * KIB))["file"]
        in_table = (await upload(api, owner, b"c" * KIB, table_id=table["id"]))["file"]
        await api.post(
            owner,
            "/records",
            {"table_id": table["id"], "fields": {"Files": [{"id": attached["id"]}]}},
        )
        services = api.app.state.services
        async with services.db.writer() as session:
            await session.execute(
                update(StoredFile)
                .where(StoredFile.id.in_([stale["id"], attached["id"], in_table["id"]]))
                .values(uploaded_at=utcnow() - timedelta(hours=2))
            )
            await session.commit()
        await upload(api, owner, b"d" * 200, status=413)  # the stale file still takes its room
        fresh = (await upload(api, owner, b"e" * 10))["file"]  # within the grace period

        await maintenance.run_once(services.db, settings, services.storage)

        gone = await api.client.get(f"/files/{stale['id']}", headers=owner.headers)
        assert gone.status_code == 404
        assert stored_names(api) == sorted([attached["id"], in_table["id"], fresh["id"]])
        assert (await usage(api, owner))["user"]["used_bytes"] == 2 * KIB + 10
        await upload(api, owner, b"f" * KIB)  # the freed room is usable again


async def test_bytes_no_file_row_points_at_are_removed_after_the_grace_period(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(private_file_grace_seconds=3600)
    async with running_api(settings) as api:
        owner, _, table = await new_table(api, ATTACHMENT_FIELDS)
        kept = (await upload(api, owner, b"k" * KIB, table_id=table["id"]))["file"]["id"]
        folder = Path(settings.resolved_files_dir)
        # What a crash leaves: bytes stored whose row never committed, and a half-written upload.
        for name in ("florphan01", ".upload-flhalf-0a1b", "flfreshorphan"):
            (folder / name).write_bytes(b"x" * 100)
        two_hours_ago = time.time() - 7200
        for name in (kept, "florphan01", ".upload-flhalf-0a1b"):
            os.utime(folder / name, (two_hours_ago, two_hours_ago))
        services = api.app.state.services

        await maintenance.run_once(services.db, settings, services.storage)

        # The orphan written within the grace period may still be an upload on its way.
        assert stored_names(api) == sorted([kept, "flfreshorphan"])
        download = await api.client.get(f"/files/{kept}/content", headers=owner.headers)
        assert download.status_code == 200 and download.content == b"k" * KIB


async def test_deleting_a_workspace_removes_its_files_bytes_and_frees_the_quota(
    make_settings: Callable[..., Settings],
) -> None:
    async with running_api(make_settings(quota_bytes_per_user=2 * KIB)) as api:
        owner, workspace_id, table = await new_table(api)
        await upload(api, owner, b"a" * 2 * KIB, table_id=table["id"])
        private = (await upload(api, owner, b"", filename="empty.txt"))["file"]

        deleted = await api.client.delete(f"/workspaces/{workspace_id}", headers=owner.headers)

        assert deleted.status_code == 204
        assert stored_names(api) == [private["id"]]
        assert (await usage(api, owner))["user"]["used_bytes"] == 0
        await upload(api, owner, b"b" * 2 * KIB)


async def test_a_table_named_after_the_file_part_is_held_to_its_workspace_quota(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(quota_bytes_per_user=0, quota_bytes_per_workspace=KIB)
    async with running_api(settings) as api:
        owner, _, table = await new_table(api)
        # The workspace is unknown while the bytes stream: the check before the commit refuses.
        body = (
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="late.bin"\r\n\r\n'
            + b"x" * (KIB + 1)
            + b'\r\n--b\r\nContent-Disposition: form-data; name="table_id"\r\n\r\n'
            + table["id"].encode()
            + b"\r\n--b--\r\n"
        )
        response = await api.client.post(
            "/files/upload",
            content=body,
            headers={**owner.headers, "Content-Type": "multipart/form-data; boundary=b"},
        )
        assert response.status_code == 413, response.text
        quota_error(response.json(), "workspace")
        assert stored_names(api) == []
        assert await file_rows(api) == 0
