"""The outbox file's schema: created, recognised and checked when it is opened.

The file is the SQLite persister of paused mutations (the durable writes the offline outbox
keeps until they are sent). It runs in WAL mode with ``synchronous=FULL``, so a row is on disk
once its ``INSERT`` or ``UPDATE`` returns. ``application_id`` marks the file as ours and
``user_version`` is its schema version: a stranger's database, a damaged file or a newer schema
is refused at open, before anything is written.

Errors::

    ServiceError
    └── OutboxError                OUTBOX_ERROR: the outbox file cannot be used
        ├── OutboxCorruptError     OUTBOX_CORRUPT: not an outbox, damaged, or a newer schema
        └── OutboxWriteError       OUTBOX_WRITE: recording failed (disk full, I/O error)
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import ClassVar

from .._errors import ServiceError

# "PAOB" in ASCII: marks the file as ours, so a stranger's database is refused at open.
APPLICATION_ID = 0x50414F42
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    operation TEXT NOT NULL,
    arguments TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    update_id TEXT,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'done', 'failed')),
    result TEXT,
    error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_user_state ON outbox (user_id, state, seq);
"""


class OutboxError(ServiceError):
    """The outbox file cannot be used; ``path`` names it."""

    default_type: ClassVar[str] = "OUTBOX_ERROR"

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message, details={"path": path})
        self.path = path


class OutboxCorruptError(OutboxError):
    """The file is not an outbox, is damaged, or was written by a newer version of the SDK."""

    default_type: ClassVar[str] = "OUTBOX_CORRUPT"


class OutboxWriteError(OutboxError):
    """A write could not be recorded (disk full, I/O error); it was not sent either."""

    default_type: ClassVar[str] = "OUTBOX_WRITE"


def _private_file(path: Path) -> None:
    """Create ``path`` readable by its owner only (0600), in folders made 0700 where missing.

    The outbox holds the user's unsent record data. Folders that already exist are left as they
    are (they may be shared ones, like a temporary folder); the file itself, and SQLite's WAL
    and shared-memory files beside it (SQLite gives those the main file's mode), are made 0600
    even when they already exist.

    Raises:
        OSError: a folder or the file cannot be created or its mode set.
    """
    missing: list[Path] = []
    folder = path.parent
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
        folder.chmod(0o700)  # mkdir's mode is narrowed by the umask, never widened; be exact
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists():
            file.chmod(0o600)


def open_outbox(path: Path, max_bytes: int | None) -> sqlite3.Connection:
    """Open (creating 0600, in 0700 folders, when missing) the outbox file at ``path``.

    ``max_bytes`` caps the file's size (None: no cap). The connection is in autocommit mode and
    may be used from any thread (the caller serialises its use).

    Raises:
        OutboxCorruptError: the file exists but is not a readable outbox of this version.
        OutboxError: the file cannot be created or opened.
    """
    try:
        _private_file(path)
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    except (OSError, sqlite3.Error) as exc:
        raise OutboxError(f"Cannot open the outbox {path}: {exc}", path=str(path)) from exc
    try:
        _prepare(db, path, max_bytes)
    except sqlite3.DatabaseError as exc:
        db.close()
        raise OutboxCorruptError(
            f"The outbox {path} is not a readable outbox file ({exc}); move it aside "
            "to start a new one (its unsent writes would be lost).",
            path=str(path),
        ) from exc
    except OutboxError:
        db.close()
        raise
    return db


def _prepare(db: sqlite3.Connection, path: Path, max_bytes: int | None) -> None:
    # Reading the header first: a file that is not SQLite fails here, before any write.
    application_id = db.execute("PRAGMA application_id").fetchone()[0]
    version = db.execute("PRAGMA user_version").fetchone()[0]
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    if application_id == 0 and version == 0 and not tables:
        db.execute("PRAGMA journal_mode=WAL")
        try:
            db.executescript(
                f"BEGIN IMMEDIATE; {_SCHEMA} PRAGMA application_id={APPLICATION_ID};"
                f" PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
            )
        except sqlite3.Error:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
    elif application_id != APPLICATION_ID:
        raise OutboxCorruptError(
            f"{path} is an SQLite file of another application, not an outbox.",
            path=str(path),
        )
    elif version != SCHEMA_VERSION:
        raise OutboxCorruptError(
            f"The outbox {path} has schema version {version}; this SDK reads "
            f"version {SCHEMA_VERSION}.",
            path=str(path),
        )
    check = db.execute("PRAGMA quick_check").fetchone()[0]
    if check != "ok":
        raise OutboxCorruptError(f"The outbox {path} is damaged: {check}.", path=str(path))
    db.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is on disk before it returns, also in WAL mode (NORMAL is not).
    db.execute("PRAGMA synchronous=FULL")
    if max_bytes is not None:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        db.execute(f"PRAGMA max_page_count={max(1, max_bytes // page_size)}")
