"""FileService against the real backend: uploads from bytes, file objects and paths, downloads."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from pyairtable_integration import PyAirtableIntegration
from pyairtable_integration._errors import NotFoundError, PayloadTooLargeError

from .conftest import Backend, running_backend

pytestmark = pytest.mark.anyio

# Several of httpx's 64 KiB multipart chunks, so a streamed upload really is sent in pieces.
BIG = os.urandom(300_000)
#: What each test's fresh user may store: room for three BIG uploads, not four.
QUOTA_BYTES = 1_000_000


@pytest.fixture(scope="module")
async def backend(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Backend]:
    """The module's backend, with a storage quota per user."""
    data_dir = tmp_path_factory.mktemp("client-files") / "data"
    async with running_backend(data_dir, quota_bytes_per_user=QUOTA_BYTES) as running:
        yield running


async def _attachment_table(pa: PyAirtableIntegration) -> str:
    workspace = await pa.services.workspace.create_workspace(name="Files")
    base = await pa.services.base.create_base(workspace_id=workspace.id, name="B")
    table = await pa.services.table.create_table(
        base_id=base.id,
        name="Docs",
        fields=[{"name": "Name", "type": "text"}, {"name": "Files", "type": "attachment"}],
    )
    return table.id


async def test_bytes_upload_round_trips_through_content_and_metadata(
    pa: PyAirtableIntegration,
) -> None:
    uploaded = await pa.services.file.upload_file(
        b"hello, file", filename="hello.txt", content_type="text/plain"
    )

    assert (uploaded.filename, uploaded.size, uploaded.type) == ("hello.txt", 11, "text/plain")
    assert uploaded.checksum == "sha256:" + hashlib.sha256(b"hello, file").hexdigest()
    assert uploaded.workspace_id is None  # private to the uploader until attached
    assert await pa.services.file.get_file(uploaded.id) == uploaded
    assert await pa.services.file.get_file_content(uploaded.id) == b"hello, file"


async def test_a_path_is_streamed_up_and_downloads_to_a_path_or_a_file_object(
    pa: PyAirtableIntegration, tmp_path: Path
) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(BIG)

    uploaded = await pa.services.file.upload_file(source)
    target = tmp_path / "out" / "copy.bin"
    target.parent.mkdir()
    written = await pa.services.file.download_file(uploaded.id, target)
    sink = io.BytesIO()
    written_to_object = await pa.services.file.download_file(uploaded.id, sink)

    assert (uploaded.filename, uploaded.size) == ("big.bin", len(BIG))
    assert uploaded.checksum == "sha256:" + hashlib.sha256(BIG).hexdigest()
    assert written == written_to_object == len(BIG)
    assert target.read_bytes() == BIG and sink.getvalue() == BIG
    assert sorted(os.listdir(target.parent)) == ["copy.bin"]  # no .part file left behind


async def test_a_file_object_upload_takes_its_name_and_attaches_to_a_record(
    pa: PyAirtableIntegration, tmp_path: Path
) -> None:
    table_id = await _attachment_table(pa)
    record = await pa.services.record.create_record(table_id, {"Name": "doc"})
    (tmp_path / "report.csv").write_bytes(b"a,b\n1,2\n")

    with (tmp_path / "report.csv").open("rb") as handle:
        uploaded = await pa.services.file.upload_file(
            handle, table_id=table_id, record_id=record.id, field="Files"
        )

    attached = await pa.services.record.get_record(record.id)
    assert uploaded.filename == "report.csv" and uploaded.table_id == table_id
    assert [item["id"] for item in attached.fields["Files"]] == [uploaded.id]
    assert attached.version == 2


async def test_a_signed_url_downloads_without_a_token(
    pa: PyAirtableIntegration, backend: Backend
) -> None:
    uploaded = await pa.services.file.upload_file(b"signed bytes", filename="s.txt")

    signed = await pa.services.file.get_file_url(uploaded.id)

    async with httpx2.AsyncClient(transport=backend.transport()) as anonymous:
        response = await anonymous.get(signed.url)
    assert response.status_code == 200 and response.content == b"signed bytes"
    assert signed.expires_at.tzinfo is not None


async def test_a_failed_download_to_a_path_leaves_no_file(
    pa: PyAirtableIntegration, tmp_path: Path
) -> None:
    target = tmp_path / "missing.bin"

    with pytest.raises(NotFoundError):
        await pa.services.file.download_file("filNoSuchFile000000", target)

    assert sorted(os.listdir(tmp_path)) == []


async def test_delete_file_removes_it(pa: PyAirtableIntegration) -> None:
    uploaded = await pa.services.file.upload_file(b"bye", filename="bye.txt")

    await pa.services.file.delete_file(uploaded.id)

    with pytest.raises(NotFoundError):
        await pa.services.file.get_file(uploaded.id)
    with pytest.raises(NotFoundError):
        await pa.services.file.get_file_content(uploaded.id)


async def test_storage_usage_counts_the_callers_files_and_a_workspaces(
    pa: PyAirtableIntegration,
) -> None:
    table_id = await _attachment_table(pa)
    await pa.services.file.upload_file(b"12345", filename="private.txt")
    in_table = await pa.services.file.upload_file(b"123", filename="t.txt", table_id=table_id)

    mine = await pa.services.file.get_storage_usage()
    both = await pa.services.file.get_storage_usage(workspace_id=in_table.workspace_id)

    assert mine.user.used_bytes == 8
    assert mine.user.quota_bytes is not None and mine.user.quota_bytes > 8
    assert mine.workspace is None
    assert both.workspace is not None
    assert both.workspace.used_bytes == 3
    with pytest.raises(NotFoundError):
        await pa.services.file.get_storage_usage(workspace_id="wspNoSuchWorkspace0")


async def test_an_upload_past_the_storage_quota_is_payload_too_large_quota_exceeded(
    pa: PyAirtableIntegration,
) -> None:
    for _ in range(3):
        await pa.services.file.upload_file(BIG, filename="big.bin")

    with pytest.raises(PayloadTooLargeError) as raised:
        await pa.services.file.upload_file(BIG, filename="one-too-many.bin")

    assert raised.value.type == "QUOTA_EXCEEDED"
    assert raised.value.details["scope"] == "user"
    assert raised.value.details["used_bytes"] == 3 * len(BIG)
    assert (await pa.services.file.get_storage_usage()).user.quota_bytes == QUOTA_BYTES
