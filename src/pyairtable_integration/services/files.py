"""The file service: uploads, file metadata, downloads and signed download URLs."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, BinaryIO

from .._ids import id_segment
from ..types import FileEnvelope, FileRecord, SignedUrl, StorageUsage
from ._base import Service, compact

#: The filename sent for bytes, or a file object without a name, when the caller gives none.
DEFAULT_FILENAME = "file"


@contextlib.contextmanager
def _opened(content: bytes | BinaryIO | os.PathLike[str]) -> Iterator[bytes | IO[bytes]]:
    # A path is opened here and handed to httpx as a file: the multipart body then reads it
    # in chunks as it is sent, instead of holding the whole file in memory.
    if isinstance(content, os.PathLike):
        with open(content, "rb") as file:
            yield file
    else:
        yield content


def _filename_of(content: bytes | BinaryIO | os.PathLike[str]) -> str:
    if isinstance(content, os.PathLike):
        return Path(content).name
    name = getattr(content, "name", None)
    return Path(name).name if isinstance(name, str) and name else DEFAULT_FILENAME


class FileService(Service):
    """``/files``: files private to their uploader, or belonging to a table's workspace."""

    name = "file"

    async def upload_file(
        self,
        content: bytes | BinaryIO | os.PathLike[str],
        *,
        filename: str | None = None,
        content_type: str | None = None,
        table_id: str | None = None,
        record_id: str | None = None,
        field: str | None = None,
    ) -> FileRecord:
        """Upload bytes, a binary file (read from its start) or a file at a path (streamed).

        With ``table_id`` the file belongs to that table's workspace; with ``record_id`` and
        ``field`` it is also appended to that attachment field of the record. Without either
        it stays private to the uploader until a record write attaches it. ``filename``
        defaults to the path's or file object's name; ``content_type`` to a guess from it.

        Raises:
            PayloadTooLargeError: the file is larger than the backend accepts, or does not fit
                in the caller's or the workspace's storage quota (``type`` ``QUOTA_EXCEEDED``).
            InvalidRequestError: ``field`` is not an attachment field of the record's table.
            NotFoundError: the table or record does not exist or the caller may not see it.
            ServiceUnavailableError: the backend's storage failed (nothing was stored).
            OSError: a path could not be opened.
        """
        name = filename if filename is not None else _filename_of(content)
        form = compact({"table_id": table_id, "record_id": record_id, "field": field})
        with _opened(content) as body:
            part = (name, body) if content_type is None else (name, body, content_type)
            answer = await self._call(
                FileEnvelope, "POST", "/files/upload", data=form, files={"file": part}
            )
        return answer.file

    async def get_file(self, file_id: str) -> FileRecord:
        """A file's metadata (name, size, type, ``sha256:`` checksum).

        Raises:
            NotFoundError: it does not exist or the caller may not see it.
        """
        return await self._call(FileRecord, "GET", f"/files/{id_segment(file_id, 'fil')}")

    async def get_file_url(self, file_id: str) -> SignedUrl:
        """A URL of the file's bytes that works without a token until ``expires_at``.

        Anyone holding the URL may download the file until then.

        Raises:
            NotFoundError: it does not exist or the caller may not see it.
        """
        return await self._call(SignedUrl, "GET", f"/files/{id_segment(file_id, 'fil')}/url")

    async def get_storage_usage(self, *, workspace_id: str | None = None) -> StorageUsage:
        """The bytes of stored files counted against the caller's storage quota, and against
        ``workspace_id``'s when given (``quota_bytes`` is None where there is no limit).

        Raises:
            NotFoundError: the workspace does not exist or the caller is not a member.
        """
        return await self._call(
            StorageUsage, "GET", "/files/usage", params=compact({"workspace_id": workspace_id})
        )

    async def get_file_content(self, file_id: str) -> bytes:
        """A file's bytes, all in memory (``download_file`` streams large ones instead).

        Raises:
            NotFoundError: it does not exist, the caller may not see it, or its bytes are gone.
        """
        response = await self._send("GET", f"/files/{id_segment(file_id, 'fil')}/content")
        return response.content

    async def download_file(
        self, file_id: str, destination: str | os.PathLike[str] | BinaryIO
    ) -> int:
        """Stream a file's bytes into ``destination`` (a path, or a binary file to write to).

        Returns the number of bytes written. A path is written only once the whole download
        arrived (to ``<path>.part`` first, then renamed), so a cut-off download never leaves
        a truncated file where the caller expects a complete one.

        Raises:
            NotFoundError: it does not exist, the caller may not see it, or its bytes are gone.
            NetworkError: the download was cut off.
            OSError: the destination could not be written.
        """
        if isinstance(destination, str | os.PathLike):
            target = Path(destination)
            partial = target.with_name(target.name + ".part")
            try:
                # Local file I/O is brief next to the network wait, as are the chunk writes.
                with open(partial, "wb") as file:  # noqa: ASYNC230
                    written = await self._download(file_id, file)
                partial.replace(target)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
            return written
        return await self._download(file_id, destination)

    async def _download(self, file_id: str, sink: IO[bytes]) -> int:
        written = 0
        async with self._transport.stream(
            self.name, f"/files/{id_segment(file_id, 'fil')}/content"
        ) as response:
            async for chunk in response.aiter_bytes():
                # A local disk write of one chunk is short; the network wait is what is async.
                sink.write(chunk)
                written += len(chunk)
        return written

    async def delete_file(self, file_id: str) -> None:
        """Delete a file; every record holding it loses it.

        Raises:
            PermissionDeniedError: the caller's role may not write files in its workspace.
            NotFoundError: it does not exist or the caller may not see it.
        """
        await self._send("DELETE", f"/files/{id_segment(file_id, 'fil')}")
