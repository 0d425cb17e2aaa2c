"""Browser sessions shared by the web routes and the pages' integrations.

The web session integration keeps each browser's tokens server-side (``mode="server"``), in a
``SharedSessionStore``. A page's own integration keeps its tokens in that same entry through
``SessionEntryTokenStore``: a refresh made by the page is what the browser's next request
loads, and a refresh made by a request is what the page adopts (``AuthManager`` re-reads its
store before refreshing), so no refresh token is ever spent twice, which the backend would
take for theft and answer by revoking the session.
"""

from __future__ import annotations

import threading
import time

from pyairtable_integration.auth import Session


class SharedSessionStore:
    """Sessions by id in this process, safe to use from the server's and the pages' threads.

    It is a ``SessionStore`` (async methods, for the web routes) with blocking twins (``get``,
    ``put``, ``remove``) for token stores, which are synchronous.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, tuple[float, Session]] = {}

    def get(self, session_id: str) -> Session | None:
        """The session under ``session_id``, or None (unknown or expired)."""
        with self._lock:
            entry = self._sessions.get(session_id)
            if entry is None:
                return None
            if entry[0] <= time.monotonic():
                del self._sessions[session_id]
                return None
            return entry[1]

    def put(self, session_id: str, session: Session, *, ttl: int) -> None:
        """Keep ``session`` under ``session_id`` for ``ttl`` seconds."""
        with self._lock:
            now = time.monotonic()
            for stale in [key for key, (until, _) in self._sessions.items() if until <= now]:
                del self._sessions[stale]
            self._sessions[session_id] = (now + ttl, session)

    def remove(self, session_id: str) -> None:
        """Forget the session under ``session_id`` (no error when there is none)."""
        with self._lock:
            self._sessions.pop(session_id, None)

    async def load(self, session_id: str) -> Session | None:
        return self.get(session_id)

    async def save(self, session_id: str, session: Session, *, ttl: int) -> None:
        self.put(session_id, session, ttl=ttl)

    async def delete(self, session_id: str) -> None:
        self.remove(session_id)

    def __repr__(self) -> str:
        return f"SharedSessionStore(sessions={len(self._sessions)})"


class SessionEntryTokenStore:
    """A ``TokenStore`` that is one browser's entry in a ``SharedSessionStore``."""

    def __init__(self, store: SharedSessionStore, session_id: str, *, ttl: int) -> None:
        self._store = store
        self._session_id = session_id
        self._ttl = ttl

    def load(self) -> Session | None:
        return self._store.get(self._session_id)

    def save(self, session: Session) -> None:
        self._store.put(self._session_id, session, ttl=self._ttl)

    def clear(self) -> None:
        # The page's session ended (a refused refresh, a sign-out): so has the browser's.
        self._store.remove(self._session_id)

    def __repr__(self) -> str:
        return "SessionEntryTokenStore()"
