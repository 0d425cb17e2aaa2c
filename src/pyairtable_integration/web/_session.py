"""One browser's session during one request: loaded lazily, refreshed when due, written back.

The middleware puts a ``BrowserSession`` in the request's scope. Nothing is read from the
backend until a handler asks for the session; every change (sign-in, refresh, sign-out, a
session the backend ended) is written to the cookie, and the server store, when the answer
starts, so handlers never set cookies themselves.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from .._errors import APIConnectionError, AuthenticationError, ServiceError
from .._session_client import SessionClient
from ..auth import AuthManager, Session, SessionEvent
from ..services import Services
from ..types import User
from ._csrf import ANONYMOUS

if TYPE_CHECKING:
    from .._integration import PyAirtableIntegration
    from ._app import PyAirtableAuth

STATE_KEY = "pyairtable_web_session"
SESSION_ID_BYTES = 32


@dataclass(frozen=True)
class WebSession:
    """A signed-in browser: its user, and a client that calls the backend as that user.

    ``services`` and ``auth`` act for this browser only (``await session.auth.can(...)``); a
    refresh they make is written back to the browser's cookie with the answer.
    """

    session_id: str
    client: SessionClient

    @property
    def user(self) -> User:
        """The signed-in user (as of sign-in or the latest refresh).

        Raises:
            AuthenticationError: the session ended during this request.
        """
        return self._session.user

    @property
    def expires_at(self) -> datetime:
        """When the current access token expires (it is refreshed before then when used).

        Raises:
            AuthenticationError: the session ended during this request.
        """
        return self._session.expires_at

    @property
    def services(self) -> Services:
        """The backend's services, called as this browser's user."""
        return self.client.services

    @property
    def auth(self) -> AuthManager:
        """This browser's session: ``can``/``require`` permission checks, ``has_role``."""
        return self.client.auth

    @property
    def _session(self) -> Session:
        session = self.client.session
        if session is None:
            raise AuthenticationError("The session has ended.", code=401)
        return session

    def __repr__(self) -> str:
        user = self.client.auth.user
        return f"WebSession(user_id={None if user is None else user.id!r})"


class BrowserSession:
    """The session of the browser making the current request (one per request)."""

    def __init__(self, auth: PyAirtableAuth, cookies: dict[str, str]) -> None:
        self._auth = auth
        self.csrf_cookie = cookies.get(auth.config.csrf_cookie_name)
        opened = auth.open_cookie(cookies.get(auth.config.cookie_name))
        self.session_id: str | None = None if opened is None else opened[0]
        self._cookie_session = None if opened is None else opened[1]
        self._had_cookie = auth.config.cookie_name in cookies
        self._loaded = False
        self._lock = asyncio.Lock()
        self._web: WebSession | None = None
        self._write: Literal["set", "clear"] | None = None
        self._pending: Session | None = None
        self._forget_ids: list[str] = []
        self._csrf_out: str | None = None
        self._committed = False
        if self._had_cookie and opened is None:
            self._write = "clear"  # a cookie we cannot open (tampered, expired): drop it

    @property
    def integration(self) -> PyAirtableIntegration:
        """The app's integration (one for every browser)."""
        return self._auth.integration

    @property
    def csrf_binding(self) -> str:
        """What this browser's CSRF tokens are bound to: its session id, or ``ANONYMOUS``."""
        return self.session_id or ANONYMOUS

    def csrf_valid(self, token: str | None) -> bool:
        """Whether ``token`` was issued for this browser's current session."""
        return self._auth.csrf.valid(token, self.csrf_binding)

    async def load(self) -> WebSession | None:
        """The signed-in session, refreshed first when its access token is due; None if none.

        A session this worker signed out, or that the backend says has ended (asked at most
        every ``revalidate_after`` seconds, or refused at a refresh), signs the browser out;
        when the backend cannot be reached the current session is kept (its client tries again
        when used).
        """
        async with self._lock:
            if self._loaded:
                return self._web
            self._loaded = True
            if self.session_id is None:
                return None
            liveness = self._auth.liveness
            if liveness.ended(self.session_id):
                self._forget()
                return None
            session = self._cookie_session
            if self._auth.config.mode == "server":
                session = await self._auth.store.load(self.session_id)
            if session is None:
                self._forget()
                return None
            try:
                fresh = await self._auth.fresh(session)
            except AuthenticationError:
                self._forget()
                return None
            except APIConnectionError:
                fresh = session
            if fresh is not session:
                if self._auth.config.mode == "server":
                    # Saved now, not with the answer: the browser's next requests (and a
                    # websocket, which never answers) must find the new refresh token.
                    await self._auth.store.save(
                        self.session_id, fresh, ttl=self._auth.config.max_age
                    )
                self._changed(fresh)
                liveness.confirmed(self.session_id)
            web = self._web = self._bind(fresh)
            if liveness.due(web.session_id) and not await self._still_live(web):
                return None
            return self._web

    async def _still_live(self, web: WebSession) -> bool:
        """Ask the backend whether the session is live (one authenticated call); forget it
        when not. Unreachable or failing, the backend is given the benefit of the doubt."""
        try:
            await web.client.services.auth.get_me()
        except AuthenticationError:
            self._forget()
            return False
        except ServiceError:
            return True
        self._auth.liveness.confirmed(web.session_id)
        return True

    async def sign_in(self, session: Session) -> WebSession:
        """Make ``session`` this browser's, under a new session id, with a new CSRF token."""
        async with self._lock:
            if self.session_id is not None:
                self._forget_ids.append(self.session_id)
            self.session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
            self._auth.liveness.confirmed(self.session_id)  # the backend just signed it in
            self._loaded = True
            self._changed(session)
            self._web = self._bind(session)
            self._csrf_out = self._auth.csrf.issue(self.session_id)
            return self._web

    async def sign_out(self) -> None:
        """Revoke the browser's session on the backend (when it has one) and forget it here."""
        web = await self.load()
        if web is not None:
            await web.auth.logout()  # never raises for an unreachable backend; logged instead
        async with self._lock:
            self._forget()
            self._csrf_out = self._auth.csrf.issue(ANONYMOUS)

    def issue_csrf(self) -> str:
        """This browser's CSRF token: the one in its cookie when still valid, else a new one."""
        if self._csrf_out is not None:
            return self._csrf_out
        if self._auth.csrf.valid(self.csrf_cookie, self.csrf_binding):
            assert self.csrf_cookie is not None
            return self.csrf_cookie
        self._csrf_out = self._auth.csrf.issue(self.csrf_binding)
        return self._csrf_out

    async def commit(self) -> list[str]:
        """Save what changed in the server store; the ``Set-Cookie`` values for the answer."""
        if self._committed:
            return []
        self._committed = True
        config = self._auth.config
        for stale in self._forget_ids:
            # Ended (signed out, refused by the backend, replaced by a new sign-in): copies of
            # its cookie must not open it again here, nor through the store anywhere.
            self._auth.liveness.end(stale)
            if config.mode == "server":
                await self._auth.store.delete(stale)
        headers: list[str] = []
        if self._write == "set" and self.session_id is not None and self._pending is not None:
            if config.mode == "server":
                await self._auth.store.save(self.session_id, self._pending, ttl=config.max_age)
            headers.append(self._auth.session_cookie(self.session_id, self._pending))
        elif self._write == "clear":
            headers.append(self._auth.expired_cookie(config.cookie_name))
        if self._csrf_out is not None:
            headers.append(self._auth.csrf_cookie(self._csrf_out))
        return headers

    def _bind(self, session: Session) -> WebSession:
        assert self.session_id is not None
        client = self._auth.integration.for_session(session)
        client.auth.on_session_change(self._on_change)
        return WebSession(self.session_id, client)

    def _on_change(self, event: SessionEvent) -> None:
        # The request's client refreshed on its own (a 401, a long handler) or its session
        # ended: the browser must get the new state with this answer.
        if event.kind == "refreshed" and event.session is not None:
            self._changed(event.session)
        elif event.kind in ("ended", "signed_out"):
            self._forget()

    def _changed(self, session: Session) -> None:
        self._write = "set"
        self._pending = session

    def _forget(self) -> None:
        if self.session_id is not None:
            self._forget_ids.append(self.session_id)
        self.session_id = None
        self._web = None
        self._pending = None
        self._write = "clear" if self._had_cookie or self._write == "set" else None
