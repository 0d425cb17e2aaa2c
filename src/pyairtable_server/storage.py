"""Where uploaded files' bytes live (contract §7): a small protocol and the local-folder store.

Bytes are addressed by a key the server chooses (the file id), never by the uploader's filename,
so no client input ever becomes a path. ``Storage`` is what the routes depend on; an
S3-compatible store would implement the same methods (``put`` as a multipart upload, ``open``
as a ranged GET, ``keys_written_before`` as a listing, ``remove_abandoned_uploads`` as aborting
stale multipart uploads).

Every failure of the medium (a full disk, a lost mount, permissions) is raised as
``StorageUnavailable``; the routes answer it with 503.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import secrets
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

import anyio

from .settings import Settings

logger = logging.getLogger("pyairtable_server.storage")
#: Bytes read per chunk when streaming a stored file out.
READ_CHUNK_BYTES = 64 * 1024
_KEY = re.compile(r"^[0-9A-Za-z]{1,64}$")
_TEMP_PREFIX = ".upload-"


class StorageUnavailable(Exception):
    """The storage could not do what was asked; the message says why, for the client."""


class Storage(Protocol):
    """Blob storage keyed by opaque, server-chosen keys (``[0-9A-Za-z]{1,64}``)."""

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> None:
        """Store the bytes of ``chunks`` under ``key``, all or nothing.

        Until ``chunks`` is exhausted nothing is visible under ``key``; if it raises, or the
        storage fails, nothing is left behind and the exception propagates (storage failures as
        ``StorageUnavailable``).
        """
        ...

    async def open(
        self, key: str, *, start: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        """The stored bytes from ``start``, ``length`` of them (None: to the end), as chunks.

        Opening happens before this returns, so a missing blob or a failing medium raises here
        (``FileNotFoundError``, ``StorageUnavailable``), before any byte is sent.
        """
        ...

    async def delete(self, key: str) -> None:
        """Remove the bytes under ``key``; a missing key is not an error.

        Raises ``StorageUnavailable``.
        """
        ...

    async def keys_written_before(self, cutoff: float) -> list[str]:
        """The keys of the blobs last written before ``cutoff`` (a POSIX time), in no order.

        Raises ``StorageUnavailable`` when the medium cannot be listed.
        """
        ...

    async def remove_abandoned_uploads(self, cutoff: float) -> int:
        """Remove what uploads interrupted before ``cutoff`` left behind (a crash mid-``put``);
        return how many went. Raises ``StorageUnavailable`` when the medium cannot be listed."""
        ...

    async def check(self) -> None:
        """Raise ``StorageUnavailable`` unless the storage can take writes now (health)."""
        ...


def _unavailable(exc: OSError, doing: str) -> StorageUnavailable:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageUnavailable(f"The file storage is full; could not {doing}.")
    return StorageUnavailable(
        f"The file storage failed ({exc.strerror or type(exc).__name__}); could not {doing}."
    )


class LocalFolderStorage:
    """Blobs as files of one folder, written to a temporary file and renamed into place.

    The rename is atomic on one filesystem, so a reader sees a whole blob or none; a crash
    leaves at most a ``.upload-*`` temporary file, never a partial blob under a key.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, key: str) -> Path:
        if _KEY.match(key) is None:
            raise ValueError(f"not a storage key: {key!r}")
        return self.folder / key

    def ensure_folder(self) -> None:
        """Create the folder (mode 0700) if it is missing. Raises ``OSError``."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> None:
        final = self._path(key)
        temp = self.folder / f"{_TEMP_PREFIX}{key}-{secrets.token_hex(4)}"
        try:
            handle: BinaryIO = await anyio.to_thread.run_sync(_create, temp)
        except OSError as exc:
            raise _unavailable(exc, "store the file") from exc
        try:
            try:
                async for chunk in chunks:
                    await anyio.to_thread.run_sync(handle.write, chunk)
                await anyio.to_thread.run_sync(_finish, handle)
            finally:
                handle.close()
            await anyio.to_thread.run_sync(os.replace, temp, final)
        except BaseException as exc:
            # Shielded: a cancelled request (client gone) must still not leave a partial file.
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(_remove, temp)
            if isinstance(exc, OSError):
                raise _unavailable(exc, "store the file") from exc
            raise

    async def open(
        self, key: str, *, start: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            handle: BinaryIO = await anyio.to_thread.run_sync(_open_at, path, start)
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise _unavailable(exc, "read the file") from exc
        return _read_chunks(handle, length)

    async def delete(self, key: str) -> None:
        try:
            await anyio.to_thread.run_sync(_remove, self._path(key))
        except OSError as exc:
            raise _unavailable(exc, "delete the file") from exc

    async def keys_written_before(self, cutoff: float) -> list[str]:
        def listing() -> list[str]:
            return [
                entry.name
                for entry in _entries_before(self.folder, cutoff)
                if _KEY.match(entry.name) is not None
            ]

        try:
            return await anyio.to_thread.run_sync(listing)
        except OSError as exc:
            raise _unavailable(exc, "list the files") from exc

    async def remove_abandoned_uploads(self, cutoff: float) -> int:
        def sweep() -> int:
            removed = 0
            for entry in _entries_before(self.folder, cutoff):
                if entry.name.startswith(_TEMP_PREFIX):
                    _remove(Path(entry.path))
                    removed += 1
            return removed

        try:
            return await anyio.to_thread.run_sync(sweep)
        except OSError as exc:
            raise _unavailable(exc, "remove abandoned uploads") from exc

    async def check(self) -> None:
        def probe() -> None:
            self.ensure_folder()
            if not os.access(self.folder, os.W_OK | os.X_OK):
                raise PermissionError(errno.EACCES, "the folder is not writable")

        try:
            await anyio.to_thread.run_sync(probe)
        except OSError as exc:
            raise _unavailable(exc, "write") from exc


async def remove_unreferenced(storage: Storage, keys: Iterable[str], *, whose: str) -> None:
    """Remove the bytes under ``keys``, which no row points at any more (``whose`` says why, for
    the log). Never raises: a failure is logged, the bytes only take space. Runs to the end even
    when the caller is cancelled."""
    with anyio.CancelScope(shield=True):
        for key in keys:
            try:
                await storage.delete(key)
            except StorageUnavailable:
                logger.warning("could not remove the bytes of %s %s", whose, key, exc_info=True)


def storage_for(settings: Settings) -> LocalFolderStorage:
    """The storage the settings configure: the local folder ``resolved_files_dir``."""
    return LocalFolderStorage(settings.resolved_files_dir)


def _entries_before(folder: Path, cutoff: float) -> Iterator[os.DirEntry[str]]:
    """The regular files of ``folder`` last modified before ``cutoff`` (none if it is missing)."""
    if not folder.exists():
        return
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                yield entry


def _create(path: Path) -> BinaryIO:
    # O_EXCL: the name is random, but never write into a file someone else made.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(fd, "wb")


def _finish(handle: BinaryIO) -> None:
    handle.flush()
    # Durable before it becomes visible: the row that points at it is committed right after.
    os.fsync(handle.fileno())


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def _open_at(path: Path, start: int) -> BinaryIO:
    handle = path.open("rb")
    try:
        handle.seek(start)
    except BaseException:
        handle.close()
        raise
    return handle


async def _read_chunks(handle: BinaryIO, length: int | None) -> AsyncIterator[bytes]:
    try:
        remaining = length
        while remaining is None or remaining > 0:
            size = READ_CHUNK_BYTES if remaining is None else min(READ_CHUNK_BYTES, remaining)
            try:
                chunk = await anyio.to_thread.run_sync(handle.read, size)
            except OSError as exc:
                raise _unavailable(exc, "read the file") from exc
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk
    finally:
        handle.close()
