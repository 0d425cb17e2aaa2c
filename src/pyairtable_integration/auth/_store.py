"""Where a session's tokens are kept between calls: memory by default, or a private file."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Protocol

from ._session import Session

logger = logging.getLogger("pyairtable_integration.auth")


class TokenStore(Protocol):
    """Keeps the current session; the auth manager saves after sign-in and every refresh."""

    def load(self) -> Session | None:
        """The stored session, or None."""
        ...

    def save(self, session: Session) -> None:
        """Keep ``session``, replacing any other."""
        ...

    def clear(self) -> None:
        """Forget the stored session."""
        ...


class MemoryTokenStore:
    """Keeps the session in this process only."""

    def __init__(self, session: Session | None = None) -> None:
        self._session = session

    def load(self) -> Session | None:
        return self._session

    def save(self, session: Session) -> None:
        self._session = session

    def clear(self) -> None:
        self._session = None

    def __repr__(self) -> str:
        return f"MemoryTokenStore(signed_in={self._session is not None})"


class FileTokenStore:
    """Keeps the session in a JSON file only its owner can read (mode 0600), written atomically.

    A file that cannot be read as a session is treated as no session (and logged), never as an
    error that would stop the app from starting; it is replaced at the next sign-in.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> Session | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return Session.from_json(text)
        except ValueError as exc:
            logger.warning("ignoring unreadable token file %s: %s", self.path, exc)
            return None

    def save(self, session: Session) -> None:
        """Write the session to a private temporary file, flush it to disk, then swap it in.

        Raises:
            OSError: the file cannot be written (a full disk, say); the previous file is intact.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(session.to_json())
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, 0o600)
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            raise

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def __repr__(self) -> str:
        return f"FileTokenStore({str(self.path)!r})"
