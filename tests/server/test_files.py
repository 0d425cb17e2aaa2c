"""File service (contract §7): upload, download with ETags and ranges, signed URLs, limits,
access rules, attachments in records, delete. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import errno
import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from sqlalchemy import func, select

from pyairtable_server.clock import utcnow
from pyairtable_server.db.models import StoredFile
from pyairtable_server.settings import Settings
from pyairtable_server.signed_urls import sign
from pyairtable_server.storage import LocalFolderStorage, Storage, StorageUnavailable

from .backend import Actor, Api, running_api

pytestmark = pytest.mark.anyio

CONTENT = bytes(range(256)) * 4 + b"the end"
ATTACHMENT_FIELDS = [
    {"name": "Name", "type": "text"},
    {"name": "Files", "type": "attachment"},
    {"name": "Notes", "type": "text"},
]


async def upload(
    api: Api,
    actor: Actor,
    content: bytes = CONTENT,
    *,
    filename: str = "notes.bin",
    content_type: str | None = "application/x-test",
    status: int = 201,
    headers: dict[str, str] | None = None,
    **form: str,
) -> dict[str, Any]:
    """Upload as ``actor`` and insist on ``status``; the decoded answer."""
    part = (filename, content, content_type) if content_type else (filename, content)
    response = await api.client.post(
        "/files/upload",
        files={"file": part},
        data=form,
        headers={**actor.headers, **(headers or {})},
    )
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def multipart(filename: bytes, content: bytes, boundary: bytes = b"fixed") -> bytes:
    """A one-part upload body as raw bytes (httpx would percent-encode odd filenames)."""
    return (
        b"--"
        + boundary
        + b'\r\nContent-Disposition: form-data; name="file"; filename="'
        + filename
        + b'"\r\n\r\n'
        + content
        + b"\r\n--"
        + boundary
        + b"--\r\n"
    )


def multipart_headers(actor: Actor, boundary: str = "fixed") -> dict[str, str]:
    return {**actor.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"}


def stored_names(api: Api) -> list[str]:
    """What is in the files folder, temporary files included."""
    folder = api.app.state.services.settings.resolved_files_dir
    return sorted(path.name for path in Path(folder).iterdir())


async def file_rows(api: Api) -> int:
    async with api.app.state.services.db.reader() as db:
        count: int = await db.scalar(select(func.count()).select_from(StoredFile))
        return count


async def record(api: Api, actor: Actor, record_id: str) -> dict[str, Any]:
    response = await api.client.get(f"/records/{record_id}", headers=actor.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def events_since(api: Api, actor: Actor, since: int) -> list[dict[str, Any]]:
    response = await api.client.get("/events", params={"since": since}, headers=actor.headers)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def head_seq(api: Api, actor: Actor) -> int:
    response = await api.client.get("/events", params={"since": 0}, headers=actor.headers)
    return int(response.json()["next_since"])


async def new_table(
    api: Api, fields: list[dict[str, Any]] | None = None
) -> tuple[Actor, str, dict[str, Any]]:
    """A fresh owner, their workspace's id, and a table in it."""
    owner = await api.actor()
    workspace = await api.workspace(owner)
    base = await api.base(owner, workspace["id"])
    return owner, str(workspace["id"]), await api.table(owner, base["id"], fields)


# -- upload and download ----------------------------------------------------------------------


async def test_upload_then_read_the_record_and_the_same_bytes(api: Api) -> None:
    owner, workspace_id, table = await new_table(api)
    body = await upload(api, owner, table_id=table["id"])

    file = body["file"]
    assert file["id"].startswith("fil")
    assert file["filename"] == "notes.bin"
    assert file["size"] == len(CONTENT)
    assert file["type"] == "application/x-test"
    assert file["checksum"] == "sha256:" + hashlib.sha256(CONTENT).hexdigest()
    assert file["uploaded_by"] == owner.id
    assert file["uploaded_at"].endswith("Z")
    assert file["url"] == f"http://testserver/api/v1/files/{file['id']}/content"
    assert file["workspace_id"] == workspace_id
    assert file["table_id"] == table["id"]

    got = await api.client.get(f"/files/{file['id']}", headers=owner.headers)
    assert got.status_code == 200
    assert got.json() == file

    content = await api.client.get(file["url"], headers=owner.headers)
    assert content.status_code == 200
    assert content.content == CONTENT
    assert hashlib.sha256(content.content).hexdigest() == file["checksum"].removeprefix("sha256:")
    assert content.headers["content-type"] == "application/x-test"
    assert content.headers["content-length"] == str(len(CONTENT))
    assert content.headers["etag"] == f'"sha256-{hashlib.sha256(CONTENT).hexdigest()}"'
    assert content.headers["accept-ranges"] == "bytes"
    assert content.headers["content-disposition"].startswith('attachment; filename="notes.bin"')
    # The bytes are kept under the file id, never under the client's filename.
    assert stored_names(api) == [file["id"]]


async def test_the_type_is_guessed_from_the_filename_when_the_part_has_none(api: Api) -> None:
    owner = await api.actor()
    response = await api.client.post(
        "/files/upload", content=multipart(b"cat.png", b"PNG"), headers=multipart_headers(owner)
    )
    assert response.status_code == 201, response.text
    assert response.json()["file"]["type"] == "image/png"


async def test_the_content_needs_a_token_or_a_signature(api: Api) -> None:
    owner = await api.actor()
    file = (await upload(api, owner))["file"]
    response = await api.client.get(file["url"])
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "AUTH_ERROR"


async def test_if_none_match_with_the_etag_answers_304(api: Api) -> None:
    owner = await api.actor()
    file = (await upload(api, owner))["file"]
    first = await api.client.get(file["url"], headers=owner.headers)
    etag = first.headers["etag"]

    again = await api.client.get(file["url"], headers={**owner.headers, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    changed = await api.client.get(
        file["url"], headers={**owner.headers, "If-None-Match": '"sha256-other"'}
    )
    assert changed.status_code == 200
    assert changed.content == CONTENT


@pytest.mark.parametrize(
    ("range_header", "start", "end"),
    [
        ("bytes=10-19", 10, 19),
        ("bytes=-7", len(CONTENT) - 7, len(CONTENT) - 1),
        ("bytes=1000-", 1000, len(CONTENT) - 1),
    ],
)
async def test_a_range_answers_206_with_those_bytes(
    api: Api, range_header: str, start: int, end: int
) -> None:
    owner = await api.actor()
    file = (await upload(api, owner))["file"]
    response = await api.client.get(file["url"], headers={**owner.headers, "Range": range_header})
    assert response.status_code == 206
    assert response.content == CONTENT[start : end + 1]
    assert response.headers["content-range"] == f"bytes {start}-{end}/{len(CONTENT)}"
    assert response.headers["content-length"] == str(end - start + 1)


async def test_a_range_past_the_end_answers_416(api: Api) -> None:
    owner = await api.actor()
    file = (await upload(api, owner))["file"]
    response = await api.client.get(
        file["url"], headers={**owner.headers, "Range": f"bytes={len(CONTENT)}-"}
    )
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(CONTENT)}"
    assert response.json()["error"]["type"] == "RANGE_NOT_SATISFIABLE"


async def test_several_ranges_or_a_stale_if_range_answer_the_whole_file(api: Api) -> None:
    owner = await api.actor()
    file = (await upload(api, owner))["file"]
    several = await api.client.get(file["url"], headers={**owner.headers, "Range": "bytes=0-1,5-6"})
    assert several.status_code == 200
    assert several.content == CONTENT
    etag = several.headers["etag"]
    stale = await api.client.get(
        file["url"], headers={**owner.headers, "Range": "bytes=0-1", "If-Range": '"sha256-old"'}
    )
    assert stale.status_code == 200
    assert stale.content == CONTENT
    current = await api.client.get(
        file["url"], headers={**owner.headers, "Range": "bytes=0-1", "If-Range": etag}
    )
    assert current.status_code == 206
    assert current.content == CONTENT[:2]


async def test_a_unicode_filename_round_trips_through_content_disposition(api: Api) -> None:
    owner = await api.actor()
    name = "résumé 履歴書 ✓.pdf"
    file = (await upload(api, owner, filename=name))["file"]
    assert file["filename"] == name
    response = await api.client.get(file["url"], headers=owner.headers)
    disposition = response.headers["content-disposition"]
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == name
    assert disposition.isascii()


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("../../etc/passwd", "passwd"), ("..\\..\\boot.ini", "boot.ini"), ("/abs/x.txt", "x.txt")],
)
async def test_path_separators_in_a_filename_are_dropped(api: Api, sent: str, kept: str) -> None:
    owner = await api.actor()
    file = (await upload(api, owner, filename=sent))["file"]
    assert file["filename"] == kept
    assert stored_names(api) == [file["id"]]


async def test_a_filename_with_control_characters_is_refused(api: Api) -> None:
    owner = await api.actor()
    for name in (b"bad\x01name.txt", b"tab\tname.txt", b"\xff\xfe.txt"):
        response = await api.client.post(
            "/files/upload", content=multipart(name, b"x"), headers=multipart_headers(owner)
        )
        assert response.status_code == 422, name
        assert "file" in response.json()["error"]["details"]["fields"]
    assert stored_names(api) == []


async def test_an_upload_without_a_file_part_is_refused(api: Api) -> None:
    owner = await api.actor()
    response = await api.client.post(
        "/files/upload",
        data={"table_id": "tbl1"},
        files={"other": ("x", b"x")},
        headers=owner.headers,
    )
    assert response.status_code == 422
    json_body = await api.client.post("/files/upload", json={"file": "x"}, headers=owner.headers)
    assert json_body.status_code == 422
    assert "Content-Type" in json_body.json()["error"]["details"]["fields"]


# -- signed URLs ------------------------------------------------------------------------------


async def _signed(api: Api, actor: Actor, file_id: str) -> str:
    response = await api.client.get(f"/files/{file_id}/url", headers=actor.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    expires = int(parse_qs(urlsplit(body["url"]).query)["expires"][0])
    assert body["expires_at"].endswith("Z")
    assert abs(expires - utcnow().timestamp() - 3600) < 120
    return str(body["url"])


async def test_a_signed_url_works_without_a_token_with_ranges_and_etags(api: Api) -> None:
    owner = await api.actor()
    file = (await upload(api, owner))["file"]
    url = await _signed(api, owner, file["id"])
    assert url.startswith(file["url"] + "?")

    whole = await api.client.get(url)
    assert whole.status_code == 200
    assert whole.content == CONTENT
    part = await api.client.get(url, headers={"Range": "bytes=0-9"})
    assert part.status_code == 206
    assert part.content == CONTENT[:10]
    cached = await api.client.get(url, headers={"If-None-Match": whole.headers["etag"]})
    assert cached.status_code == 304


async def test_an_expired_signed_url_is_403(api: Api) -> None:
    owner = await api.actor()
    file = (await upload(api, owner))["file"]
    # A genuine signature made two hours ago with a one-hour lifetime.
    key = api.app.state.services.file_url_key
    expires, signature = sign(key, file["id"], now=utcnow() - timedelta(hours=2), ttl_seconds=3600)
    response = await api.client.get(
        file["url"], params={"expires": expires, "signature": signature}
    )
    assert response.status_code == 403
    assert response.json()["error"]["type"] == "PERMISSION_DENIED"
    assert "expired" in response.json()["error"]["message"]


@pytest.mark.parametrize("tamper", ["expires", "signature", "file", "half"])
async def test_a_tampered_signed_url_is_403(api: Api, tamper: str) -> None:
    owner = await api.actor()
    file = (await upload(api, owner))["file"]
    other = (await upload(api, owner, b"other"))["file"]
    url = await _signed(api, owner, file["id"])
    query = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
    target = file["url"]
    if tamper == "expires":
        query["expires"] = str(int(query["expires"]) + 3600)
    elif tamper == "signature":
        query["signature"] = query["signature"][::-1]
    elif tamper == "file":
        target = other["url"]
    else:
        del query["expires"]
    response = await api.client.get(target, params=query)
    assert response.status_code == 403
    assert response.json()["error"]["type"] == "PERMISSION_DENIED"


# -- limits and storage failures --------------------------------------------------------------


async def test_an_upload_over_the_limit_is_413_and_nothing_is_stored(
    make_settings: Callable[..., Settings],
) -> None:
    # The general body limit is far below the upload limit: the upload route has its own.
    settings = make_settings(max_upload_bytes=3000, max_body_bytes=1000)
    async with running_api(settings) as api:
        owner = await api.actor()
        exact = await upload(api, owner, b"x" * 3000)
        assert exact["file"]["size"] == 3000
        body = await upload(api, owner, b"x" * 3001, status=413)
        assert body["error"]["type"] == "PAYLOAD_TOO_LARGE"
        assert stored_names(api) == [exact["file"]["id"]]
        assert await file_rows(api) == 1
        # Everything else keeps the general limit.
        big = await api.client.post(
            "/workspaces", json={"name": "x", "description": "d" * 2000}, headers=owner.headers
        )
        assert big.status_code == 413


class WrappedStorage:
    """A storage that hands everything to a local one; subclasses change ``put``."""

    def __init__(self, inner: LocalFolderStorage) -> None:
        self.inner = inner

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> None:
        await self.inner.put(key, chunks)

    async def open(
        self, key: str, *, start: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        return await self.inner.open(key, start=start, length=length)

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)

    async def keys_written_before(self, cutoff: float) -> list[str]:
        return await self.inner.keys_written_before(cutoff)

    async def remove_abandoned_uploads(self, cutoff: float) -> int:
        return await self.inner.remove_abandoned_uploads(cutoff)

    async def check(self) -> None:
        await self.inner.check()


class FullDisk(WrappedStorage):
    """A storage whose disk fills up after the first chunk of every upload."""

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> None:
        async def filling() -> AsyncIterator[bytes]:
            async for chunk in chunks:
                yield chunk
                raise OSError(errno.ENOSPC, "No space left on device")

        await self.inner.put(key, filling())


async def test_a_full_disk_is_503_and_leaves_no_file_and_no_row(api: Api) -> None:
    services = api.app.state.services
    real = services.storage
    assert isinstance(real, LocalFolderStorage)
    full: Storage = FullDisk(real)
    services.storage = full
    owner, _, table = await new_table(api)
    response = await api.client.post(
        "/files/upload",
        files={"file": ("big.bin", b"y" * 300_000)},
        data={"table_id": table["id"]},
        headers=owner.headers,
    )
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["type"] == "SERVICE_UNAVAILABLE"
    assert "full" in error["message"]
    assert response.headers["retry-after"]
    assert stored_names(api) == []
    assert await file_rows(api) == 0


# -- access -----------------------------------------------------------------------------------


async def test_a_viewer_reads_files_but_cannot_upload_or_delete(api: Api) -> None:
    owner, workspace_id, table = await new_table(api)
    viewer = await api.actor()
    await api.add_member(owner, workspace_id, viewer, "viewer")
    file = (await upload(api, owner, table_id=table["id"]))["file"]

    assert (await api.client.get(f"/files/{file['id']}", headers=viewer.headers)).status_code == 200
    assert (await api.client.get(file["url"], headers=viewer.headers)).content == CONTENT
    assert (
        await api.client.get(f"/files/{file['id']}/url", headers=viewer.headers)
    ).status_code == 200
    denied = await upload(api, viewer, table_id=table["id"], status=403)
    assert denied["error"]["type"] == "PERMISSION_DENIED"
    deleting = await api.client.delete(f"/files/{file['id']}", headers=viewer.headers)
    assert deleting.status_code == 403
    assert stored_names(api) == [file["id"]]


async def test_an_editor_uploads_and_deletes(api: Api) -> None:
    owner, workspace_id, table = await new_table(api)
    editor = await api.actor()
    await api.add_member(owner, workspace_id, editor, "editor")
    file = (await upload(api, editor, table_id=table["id"]))["file"]
    owners_file = (await upload(api, owner, table_id=table["id"]))["file"]
    assert (
        await api.client.delete(f"/files/{owners_file['id']}", headers=editor.headers)
    ).status_code == 204
    assert (
        await api.client.delete(f"/files/{file['id']}", headers=owner.headers)
    ).status_code == 204
    assert stored_names(api) == []


async def test_a_non_member_gets_404_for_everything(api: Api) -> None:
    owner, _, table = await new_table(api)
    stranger = await api.actor()
    file = (await upload(api, owner, table_id=table["id"]))["file"]
    for path in (f"/files/{file['id']}", f"/files/{file['id']}/url", file["url"]):
        response = await api.client.get(path, headers=stranger.headers)
        assert response.status_code == 404, path
    assert (
        await api.client.delete(f"/files/{file['id']}", headers=stranger.headers)
    ).status_code == 404
    assert (await upload(api, stranger, table_id=table["id"], status=404))["error"][
        "type"
    ] == "NOT_FOUND"


async def test_a_file_without_a_table_is_private_to_its_uploader(api: Api) -> None:
    owner = await api.actor()
    other = await api.actor()
    file = (await upload(api, owner))["file"]
    assert file["workspace_id"] is None
    assert file["table_id"] is None
    assert (await api.client.get(f"/files/{file['id']}", headers=owner.headers)).status_code == 200
    assert (await api.client.get(f"/files/{file['id']}", headers=other.headers)).status_code == 404
    assert (
        await api.client.delete(f"/files/{file['id']}", headers=other.headers)
    ).status_code == 404
    assert (
        await api.client.delete(f"/files/{file['id']}", headers=owner.headers)
    ).status_code == 204


# -- attachments in records -------------------------------------------------------------------


async def test_upload_with_record_and_field_attaches_it_with_a_record_update(api: Api) -> None:
    owner, _, table = await new_table(api, ATTACHMENT_FIELDS)
    created = await api.post(owner, "/records", {"table_id": table["id"], "fields": {"Name": "A"}})
    since = await head_seq(api, owner)

    file = (await upload(api, owner, record_id=created["id"], field="Files"))["file"]
    assert file["table_id"] == table["id"]

    after = await record(api, owner, created["id"])
    assert after["version"] == 2
    assert after["fields"]["Files"] == [
        {
            "id": file["id"],
            "filename": "notes.bin",
            "size": len(CONTENT),
            "type": "application/x-test",
            "url": file["url"],
        }
    ]
    events = await events_since(api, owner, since)
    assert [(e["type"], e["aggregate_id"]) for e in events] == [("record.updated", created["id"])]
    assert events[0]["payload"]["changes"]["Files"]["new"] == after["fields"]["Files"]
    assert events[0]["version"] == 2


async def test_upload_to_a_field_that_is_not_an_attachment_field_is_422(api: Api) -> None:
    owner, _, table = await new_table(api, ATTACHMENT_FIELDS)
    created = await api.post(owner, "/records", {"table_id": table["id"], "fields": {"Name": "A"}})
    body = await upload(api, owner, record_id=created["id"], field="Notes", status=422)
    assert "field" in body["error"]["details"]["fields"]
    missing = await upload(api, owner, record_id=created["id"], status=422)
    assert "field" in missing["error"]["details"]["fields"]
    assert stored_names(api) == []
    assert (await record(api, owner, created["id"]))["version"] == 1


async def test_a_record_write_fills_attachments_from_the_file_and_binds_a_private_file(
    api: Api,
) -> None:
    owner, workspace_id, table = await new_table(api, ATTACHMENT_FIELDS)
    editor = await api.actor()
    await api.add_member(owner, workspace_id, editor, "editor")
    file = (await upload(api, owner, filename="real.txt", content_type="text/plain"))["file"]
    # Private: the editor cannot see it yet.
    assert (await api.client.get(f"/files/{file['id']}", headers=editor.headers)).status_code == 404

    lie = {"id": file["id"], "filename": "lie.exe", "size": 1, "type": "application/x-msdownload"}
    created = await api.post(
        owner, "/records", {"table_id": table["id"], "fields": {"Name": "A", "Files": [lie]}}
    )
    assert created["fields"]["Files"] == [
        {
            "id": file["id"],
            "filename": "real.txt",
            "size": len(CONTENT),
            "type": "text/plain",
            "url": file["url"],
        }
    ]
    # Attached, the file belongs to the table's workspace: members read it.
    bound = await api.client.get(f"/files/{file['id']}", headers=editor.headers)
    assert bound.status_code == 200
    assert bound.json()["table_id"] == table["id"]
    # A later write cannot rewrite what the record holds either.
    patched = await api.client.patch(
        f"/records/{created['id']}", json={"fields": {"Files": [lie]}}, headers=owner.headers
    )
    assert patched.json()["fields"]["Files"] == created["fields"]["Files"]


async def test_attaching_someone_elses_private_file_is_422(api: Api) -> None:
    owner, _, table = await new_table(api, ATTACHMENT_FIELDS)
    other = await api.actor()
    private = (await upload(api, other))["file"]
    response = await api.client.post(
        "/records",
        json={"table_id": table["id"], "fields": {"Files": [{"id": private["id"]}]}},
        headers=owner.headers,
    )
    assert response.status_code == 422
    assert "Files" in response.json()["error"]["details"]["fields"]
    # Unchanged: still private to its uploader.
    assert (await api.client.get(f"/files/{private['id']}", headers=other.headers)).json()[
        "workspace_id"
    ] is None


async def test_a_file_of_another_workspace_cannot_be_attached(api: Api) -> None:
    owner, _, first = await new_table(api, ATTACHMENT_FIELDS)
    workspace = await api.workspace(owner, "Second")
    base = await api.base(owner, workspace["id"])
    second = await api.table(owner, base["id"], ATTACHMENT_FIELDS)
    file = (await upload(api, owner, table_id=first["id"]))["file"]
    created = await api.post(owner, "/records", {"table_id": second["id"], "fields": {"Name": "B"}})

    for method, path, body in (
        ("POST", "/records", {"table_id": second["id"], "fields": {"Files": [{"id": file["id"]}]}}),
        ("PATCH", f"/records/{created['id']}", {"fields": {"Files": [{"id": file["id"]}]}}),
        (
            "POST",
            "/records/batch",
            {"table_id": second["id"], "records": [{"fields": {"Files": [{"id": file["id"]}]}}]},
        ),
    ):
        response = await api.client.request(method, path, json=body, headers=owner.headers)
        assert response.status_code == 422, (path, response.text)
        fields = response.json()["error"]["details"]["fields"]
        assert any(key.endswith("Files") for key in fields), fields
    # Unknown ids are refused the same way.
    unknown = await api.client.patch(
        f"/records/{created['id']}",
        json={"fields": {"Files": [{"id": "filDoesNotExist0000"}]}},
        headers=owner.headers,
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["details"]["fields"] == {
        "Files": "no such files in this workspace: ['filDoesNotExist0000']"
    }


async def test_deleting_a_file_removes_its_bytes_and_detaches_it_from_records(api: Api) -> None:
    owner, _, table = await new_table(api, ATTACHMENT_FIELDS)
    created = await api.post(owner, "/records", {"table_id": table["id"], "fields": {"Name": "A"}})
    gone = (await upload(api, owner, b"gone", record_id=created["id"], field="Files"))["file"]
    kept = (await upload(api, owner, b"kept", record_id=created["id"], field="Files"))["file"]
    alone = await api.post(
        owner,
        "/records",
        {"table_id": table["id"], "fields": {"Name": "B", "Files": [{"id": gone["id"]}]}},
    )
    since = await head_seq(api, owner)

    response = await api.client.delete(f"/files/{gone['id']}", headers=owner.headers)
    assert response.status_code == 204

    assert (await api.client.get(f"/files/{gone['id']}", headers=owner.headers)).status_code == 404
    assert (await api.client.get(gone["url"], headers=owner.headers)).status_code == 404
    assert stored_names(api) == [kept["id"]]
    first = await record(api, owner, created["id"])
    assert [a["id"] for a in first["fields"]["Files"]] == [kept["id"]]
    assert first["version"] == 4
    second = await record(api, owner, alone["id"])
    assert "Files" not in second["fields"]
    assert second["version"] == 2
    events = await events_since(api, owner, since)
    assert sorted((e["type"], e["aggregate_id"]) for e in events) == sorted(
        [("record.updated", created["id"]), ("record.updated", alone["id"])]
    )


# -- idempotency and audit --------------------------------------------------------------------


async def test_an_upload_repeated_with_its_idempotency_key_is_replayed(api: Api) -> None:
    owner = await api.actor()
    body = multipart(b"a.txt", b"hello")
    headers = {**multipart_headers(owner), "Idempotency-Key": "upload-1"}
    first = await api.client.post("/files/upload", content=body, headers=headers)
    again = await api.client.post("/files/upload", content=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert stored_names(api) == [first.json()["file"]["id"]]
    other = await api.client.post(
        "/files/upload", content=body.replace(b"hello", b"world"), headers=headers
    )
    assert other.status_code == 422
    assert other.json()["error"]["type"] == "IDEMPOTENCY_KEY_REUSED"
    assert stored_names(api) == [first.json()["file"]["id"]]


async def test_uploads_and_deletes_are_in_the_audit_log(api: Api) -> None:
    owner, workspace_id, table = await new_table(api)
    file = (await upload(api, owner, table_id=table["id"]))["file"]
    key = {"Idempotency-Key": "delete-1"}
    first = await api.client.delete(f"/files/{file['id']}", headers={**owner.headers, **key})
    again = await api.client.delete(f"/files/{file['id']}", headers={**owner.headers, **key})
    assert first.status_code == again.status_code == 204
    assert again.headers["idempotent-replayed"] == "true"
    log = await api.client.get(f"/workspaces/{workspace_id}/audit-log", headers=owner.headers)
    entries = [(e["action"], e["resource_id"]) for e in log.json()["data"]]
    assert ("file.uploaded", file["id"]) in entries
    assert ("file.deleted", file["id"]) in entries


async def test_health_reports_the_file_service_down_when_storage_fails(api: Api) -> None:
    class Broken(FullDisk):
        async def check(self) -> None:
            raise StorageUnavailable("The file storage is full; could not write.")

    services = api.app.state.services
    services.storage = Broken(services.storage)
    response = await api.client.get("/health/file")
    assert response.json()["status"] == "down"
    overall = (await api.client.get("/health")).json()
    assert overall["status"] == "degraded"
    assert overall["services"]["record"]["status"] == "ok"
