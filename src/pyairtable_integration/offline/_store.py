"""The outbox file: writes waiting to be sent, in order, on SQLite that survives ``kill -9``.

Every method is blocking and thread-safe; the outbox calls them through ``asyncio.to_thread``.
The file runs in WAL mode with ``synchronous=FULL``, so a row is on disk once its ``INSERT`` or
``UPDATE`` returns: a write recorded before it is sent, and an answer recorded before its entry
counts as done, both outlive a crash of the process at any instant.

Errors::

    ServiceError
    └── OutboxError                OUTBOX_ERROR: the outbox file cannot be used
        ├── OutboxCorruptError     OUTBOX_CORRUPT: not an outbox, damaged, or a newer schema
        └── OutboxWriteError       OUTBOX_WRITE: recording failed (disk full, I/O error)
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from .._errors import ServiceError
from ..store import records_touched

EntryState = Literal["pending", "sending", "done", "failed"]
#: The states of entries still to be sent ("sending" means a crash may have cut the send short).
UNSENT: tuple[EntryState, ...] = ("pending", "sending")

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


@dataclass(frozen=True)
class OutboxEntry:
    """One recorded write: what to send, with which ``Idempotency-Key``, and how it went.

    ``seq`` is the order entries are sent in; ``result`` is the backend's answer (JSON) once
    ``state`` is ``done``; ``error`` says why an entry ``failed`` (or was dropped on conflict).
    """

    seq: int
    id: str
    user_id: str
    operation: str
    arguments: Mapping[str, Any]
    idempotency_key: str
    update_id: str | None
    created_at: datetime
    attempts: int
    state: EntryState
    result: Any = None
    error: str | None = None

    @property
    def record_ids(self) -> tuple[str, ...]:
        """The existing records this write changes (none for creates): what has unsent edits."""
        return records_touched(self.operation, self.arguments)


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


class OutboxStore:
    """The outbox on one SQLite file; ``max_bytes`` caps the file's size (None: no cap).

    The file is created 0600, in folders created 0700.

    Raises (from the constructor):
        OutboxCorruptError: the file exists but is not a readable outbox of this version.
        OutboxError: the file cannot be created or opened.
    """

    def __init__(self, path: Path, *, max_bytes: int | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            _private_file(path)
            # One connection, used by one worker thread at a time under ``_lock``.
            self._db = sqlite3.connect(
                path, check_same_thread=False, isolation_level=None, timeout=30
            )
        except (OSError, sqlite3.Error) as exc:
            raise OutboxError(f"Cannot open the outbox {path}: {exc}", path=str(path)) from exc
        try:
            self._prepare(max_bytes)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise OutboxCorruptError(
                f"The outbox {path} is not a readable outbox file ({exc}); move it aside "
                "to start a new one (its unsent writes would be lost).",
                path=str(path),
            ) from exc
        except OutboxError:
            self._db.close()
            raise

    def _prepare(self, max_bytes: int | None) -> None:
        db = self._db
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
                f"{self.path} is an SQLite file of another application, not an outbox.",
                path=str(self.path),
            )
        elif version != SCHEMA_VERSION:
            raise OutboxCorruptError(
                f"The outbox {self.path} has schema version {version}; this SDK reads "
                f"version {SCHEMA_VERSION}.",
                path=str(self.path),
            )
        check = db.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise OutboxCorruptError(
                f"The outbox {self.path} is damaged: {check}.", path=str(self.path)
            )
        db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before it returns, also in WAL mode (NORMAL is not).
        db.execute("PRAGMA synchronous=FULL")
        if max_bytes is not None:
            page_size = db.execute("PRAGMA page_size").fetchone()[0]
            db.execute(f"PRAGMA max_page_count={max(1, max_bytes // page_size)}")

    def close(self) -> None:
        """Close the file; safe to call twice."""
        with self._lock:
            self._db.close()

    def add(
        self,
        *,
        id: str,
        user_id: str,
        operation: str,
        arguments: Mapping[str, Any],
        idempotency_key: str,
        update_id: str | None,
        created_at: datetime,
    ) -> OutboxEntry:
        """Record a write as ``pending``, last in order; it is on disk when this returns.

        Raises:
            OutboxWriteError: the row could not be written (disk full, I/O error, size cap).
        """
        encoded = json.dumps(dict(arguments), separators=(",", ":"))
        with self._writing("record the write"):
            cursor = self._db.execute(
                "INSERT INTO outbox (id, user_id, operation, arguments, idempotency_key,"
                " update_id, created_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')",
                (
                    id,
                    user_id,
                    operation,
                    encoded,
                    idempotency_key,
                    update_id,
                    created_at.isoformat(),
                ),
            )
            seq = cursor.lastrowid
        assert seq is not None
        return OutboxEntry(
            seq=seq,
            id=id,
            user_id=user_id,
            operation=operation,
            arguments=json.loads(encoded),
            idempotency_key=idempotency_key,
            update_id=update_id,
            created_at=created_at,
            attempts=0,
            state="pending",
        )

    def entries(
        self, user_id: str | None = None, *, states: Sequence[EntryState] | None = None
    ) -> list[OutboxEntry]:
        """Entries in send order, of ``user_id`` (every user when None) in ``states`` (all).

        Raises:
            OutboxError: the file cannot be read.
        """
        query = "SELECT * FROM outbox"
        clauses: list[str] = []
        params: list[Any] = []
        if user_id is not None:
            clauses.append("user_id = ?")
            params.append(user_id)
        if states is not None:
            clauses.append(f"state IN ({', '.join('?' for _ in states)})")
            params.extend(states)
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        with self._reading():
            rows = self._db.execute(query + " ORDER BY seq", params).fetchall()
        return [_entry(row) for row in rows]

    def get(self, entry_id: str) -> OutboxEntry | None:
        """The entry ``entry_id``, or None.

        Raises:
            OutboxError: the file cannot be read.
        """
        with self._reading():
            row = self._db.execute("SELECT * FROM outbox WHERE id = ?", (entry_id,)).fetchone()
        return None if row is None else _entry(row)

    def count(self, user_id: str, states: Sequence[EntryState] = UNSENT) -> int:
        """How many of ``user_id``'s entries are in ``states`` (unsent by default).

        Raises:
            OutboxError: the file cannot be read.
        """
        marks = ", ".join("?" for _ in states)
        with self._reading():
            row = self._db.execute(
                # Only "?" placeholders are formatted in; the values are bound.
                f"SELECT COUNT(*) FROM outbox WHERE user_id = ? AND state IN ({marks})",  # noqa: S608
                (user_id, *states),
            ).fetchone()
        return int(row[0])

    def begin_send(self, entry_id: str) -> None:
        """Mark an entry ``sending`` and count the attempt, before the request leaves.

        Raises:
            OutboxWriteError: the mark could not be written.
        """
        with self._writing("mark the write as sending"):
            self._db.execute(
                "UPDATE outbox SET state = 'sending', attempts = attempts + 1 WHERE id = ?",
                (entry_id,),
            )

    def finish(
        self, entry_id: str, state: EntryState, *, result: Any = None, error: str | None = None
    ) -> None:
        """Record how an entry ended (``done`` with its answer, ``failed`` with why, or back to
        ``pending``); on disk when this returns.

        Raises:
            OutboxWriteError: the outcome could not be written.
        """
        encoded = None if result is None else json.dumps(result, separators=(",", ":"))
        with self._writing("record the answer"):
            self._db.execute(
                "UPDATE outbox SET state = ?, result = ?, error = ? WHERE id = ?",
                (state, encoded, error, entry_id),
            )

    def rewrite(self, entry_id: str, *, arguments: Mapping[str, Any], idempotency_key: str) -> None:
        """Replace an unsent entry's arguments and key (a conflict resolved by sending anew).

        Raises:
            OutboxWriteError: the change could not be written.
        """
        with self._writing("rewrite the write"):
            self._db.execute(
                "UPDATE outbox SET arguments = ?, idempotency_key = ?, state = 'pending'"
                " WHERE id = ?",
                (json.dumps(dict(arguments), separators=(",", ":")), idempotency_key, entry_id),
            )

    def link(self, entry_id: str, update_id: str) -> None:
        """Name the optimistic update that shows an entry now (its layers are applied anew in
        each process).

        Raises:
            OutboxWriteError: the change could not be written.
        """
        with self._writing("link the write to its optimistic update"):
            self._db.execute("UPDATE outbox SET update_id = ? WHERE id = ?", (update_id, entry_id))

    def prune(self, user_id: str) -> int:
        """Delete ``user_id``'s ``done`` and ``failed`` entries; how many went.

        Raises:
            OutboxWriteError: the deletion could not be written.
        """
        with self._writing("prune finished writes"):
            cursor = self._db.execute(
                "DELETE FROM outbox WHERE user_id = ? AND state IN ('done', 'failed')",
                (user_id,),
            )
        return cursor.rowcount

    @contextmanager
    def _reading(self) -> Iterator[None]:
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                raise OutboxError(
                    f"Cannot read the outbox {self.path}: {exc}", path=str(self.path)
                ) from exc

    @contextmanager
    def _writing(self, what: str) -> Iterator[None]:
        # Autocommit mode: each statement is its own transaction, durable when it returns.
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                raise OutboxWriteError(
                    f"Cannot {what} in the outbox {self.path}: {exc}", path=str(self.path)
                ) from exc


def _entry(row: tuple[Any, ...]) -> OutboxEntry:
    (
        seq,
        id,
        user_id,
        operation,
        arguments,
        key,
        update_id,
        created,
        attempts,
        state,
        result,
        error,
    ) = row
    return OutboxEntry(
        seq=seq,
        id=id,
        user_id=user_id,
        operation=operation,
        arguments=json.loads(arguments),
        idempotency_key=key,
        update_id=update_id,
        created_at=datetime.fromisoformat(created),
        attempts=attempts,
        state=state,
        result=None if result is None else json.loads(result),
        error=error,
    )
