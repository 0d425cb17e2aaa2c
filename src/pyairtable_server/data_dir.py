"""The server's files on disk are private to the account that runs it.

The data dir holds the signing key, the SQLite database (with its ``-wal`` and ``-shm``
companions, which hold recent writes) and, by default, the uploaded files: anyone else on the
machine who could read them could read every tenant's data or mint tokens. So the data dir is
created 0700, and the SQLite database file 0600 before SQLite opens it; SQLite gives its WAL
and shared-memory files the database file's mode. An existing database (from before this rule)
is tightened to 0600 at start-up, its companions too. The key (``settings.load_secret_key``)
and stored files (``storage``) are written 0600 by their own code.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

from .settings import Settings

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")

logger = logging.getLogger("pyairtable_server")


def prepare(settings: Settings) -> None:
    """Create the data dir (0700) if it is missing, and make the SQLite database file, if the
    database is one, exist with mode 0600 (tightening an existing one and its companions).

    Raises ``OSError`` when the folder or the file cannot be created.
    """
    settings.data_dir.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    path = sqlite_file(settings.resolved_database_url)
    if path is None:
        return
    path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    # An empty file is a valid, empty SQLite database; creating it here decides its mode.
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE))
    for candidate in (path, *(Path(f"{path}{suffix}") for suffix in SQLITE_COMPANIONS)):
        _tighten(candidate)


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for other databases and in-memory ones."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _tighten(path: Path) -> None:
    """Take away the group's and others' access to ``path`` if it exists; a file this account
    may not change is left as it is, with a warning."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        try:
            path.chmod(mode & ~0o077 & 0o7777)
        except PermissionError:
            logger.warning("%s is readable by other accounts and could not be made private", path)
