"""Server-side session stores: where tokens live when the cookie holds only a session id."""

from __future__ import annotations

from typing import Protocol

from .._clock import Clock, SystemClock
from ..auth import Session


class SessionStore(Protocol):
    """Keeps browser sessions by id (``mode="server"``); implement it to use Redis or a database.

    Methods are async so a store may do I/O. ``ttl`` is how long (seconds) an unused session
    is kept; every request that uses a session saves it again.
    """

    async def load(self, session_id: str) -> Session | None:
        """The session stored under ``session_id``, or None (unknown or expired)."""
        ...

    async def save(self, session_id: str, session: Session, *, ttl: int) -> None:
        """Keep ``session`` under ``session_id`` for ``ttl`` seconds, replacing any other."""
        ...

    async def delete(self, session_id: str) -> None:
        """Forget the session under ``session_id`` (no error when there is none)."""
        ...


class MemorySessionStore:
    """Keeps sessions in this process: for one-process apps and tests.

    Expired sessions are dropped when read and swept whenever one is saved, so the store holds
    no more than the sessions used within their ``ttl``.
    """

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock: Clock = clock or SystemClock()
        self._sessions: dict[str, tuple[float, Session]] = {}

    async def load(self, session_id: str) -> Session | None:
        entry = self._sessions.get(session_id)
        if entry is None:
            return None
        if entry[0] <= self._clock.monotonic():
            del self._sessions[session_id]
            return None
        return entry[1]

    async def save(self, session_id: str, session: Session, *, ttl: int) -> None:
        now = self._clock.monotonic()
        for stale in [key for key, (until, _) in self._sessions.items() if until <= now]:
            del self._sessions[stale]
        self._sessions[session_id] = (now + ttl, session)

    async def delete(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._sessions)

    def __repr__(self) -> str:
        return f"MemorySessionStore(sessions={len(self._sessions)})"
