"""The server's files are private to the account that runs it: a fresh data dir is 0700; the
SQLite database, its WAL and shared-memory files, the secret key and stored files are 0600."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyairtable_server.settings import SQLITE_FILE

from .backend import build_settings, running_api
from .test_files import upload

pytestmark = pytest.mark.anyio


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that hides nothing: whatever is private is so on purpose, not by the umask."""
    previous = os.umask(0o002)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("open_umask")
async def test_a_fresh_data_dir_and_everything_in_it_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "data"
    # No configured key: the server generates one into the data dir.
    async with running_api(build_settings(None, data_dir, secret_key=None)) as api:
        owner = await api.actor()  # writes: the WAL and its index exist from here on
        file_id = (await upload(api, owner, b"secret bytes"))["file"]["id"]
        database = data_dir / SQLITE_FILE
        wal, shm = Path(f"{database}-wal"), Path(f"{database}-shm")
        assert mode(data_dir) == 0o700
        # (mode() of a missing file raises: the WAL and its index must exist by now.)
        for private in (database, wal, shm, data_dir / "secret_key", data_dir / "files" / file_id):
            assert mode(private) == 0o600, private
        assert mode(data_dir / "files") == 0o700


@pytest.mark.usefixtures("open_umask")
async def test_an_existing_database_readable_by_others_is_made_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    async with running_api(build_settings(None, data_dir)) as api:
        await api.actor()
    database = data_dir / SQLITE_FILE
    database.chmod(0o644)

    async with running_api(build_settings(None, data_dir)) as api:
        await api.actor()
        assert mode(database) == 0o600
