"""Browser sessions for a Starlette or FastAPI app: the auth object and its middleware.

One ``PyAirtableIntegration`` serves the whole app (one connection pool); each browser has
its own session, kept in an encrypted cookie or in a server-side store, and each request gets
a client bound to that browser's session (``PyAirtableIntegration.for_session``). The global
``integration.auth`` is never used for browsers.

Refresh is single-flight per session generation: concurrent requests of one browser that find
its access token due send one ``POST /auth/refresh`` and share the new pair, and a request that
still carries the old cookie shortly after gets that same pair instead of replaying a spent
refresh token (which the backend would treat as theft and revoke the whole session).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._integration import PyAirtableIntegration
from ..auth import Session
from ._config import (
    DEFAULT_COOKIE_NAME,
    DEFAULT_MAX_AGE,
    DEFAULT_PREFIX,
    DEFAULT_REVALIDATE_AFTER,
    build_web_config,
)
from ._cookie import CookieSealer
from ._csrf import CsrfTokens
from ._liveness import Liveness
from ._responses import WebAuthError, handle_web_auth_error
from ._session import STATE_KEY, BrowserSession
from ._store import MemorySessionStore, SessionStore

COOKIE_VERSION = 1
# How long a refresh's answer is kept for requests still carrying the spent refresh token:
# longer than a browser takes to receive the new cookie, and past the backend's 10 s grace.
ROTATION_MEMORY_SECONDS = 60.0


@dataclass
class _Refresh:
    task: asyncio.Task[Session]
    keep_until: float | None = None


class PyAirtableAuth:
    """Sign-in for browsers: routes, a middleware that loads each request's session, CSRF.

    ``mode="cookie"`` keeps the tokens in an encrypted httpOnly cookie; ``mode="server"``
    keeps them in ``store`` (a ``MemorySessionStore`` unless given) and the cookie holds only a
    random session id. Either way a session ended on the backend (sign-out on any worker, a
    password change) is refused within ``revalidate_after`` seconds, copies of its cookie too
    (see ``_liveness``). ``install(app)`` adds the middleware, the routes under ``prefix``
    (``/auth/login``, ``/auth/logout``, ``/auth/session``, ``/auth/csrf``) and the error
    handler. The app opens and closes ``integration`` (``async with`` in its lifespan).

    Raises:
        ConfigurationError: an option is wrong (a short ``secret_key``, an unknown ``mode``...).
    """

    def __init__(
        self,
        integration: PyAirtableIntegration,
        *,
        secret_key: str | Sequence[str],
        mode: str = "cookie",
        store: SessionStore | None = None,
        cookie_name: str = DEFAULT_COOKIE_NAME,
        csrf_cookie_name: str = "pyairtable_csrf",
        prefix: str = DEFAULT_PREFIX,
        secure: bool = True,
        same_site: str = "lax",
        max_age: int = DEFAULT_MAX_AGE,
        domain: str | None = None,
        revalidate_after: int = DEFAULT_REVALIDATE_AFTER,
    ) -> None:
        self.config = build_web_config(
            secret_key=secret_key,
            mode=mode,
            cookie_name=cookie_name,
            csrf_cookie_name=csrf_cookie_name,
            prefix=prefix,
            secure=secure,
            same_site=same_site,
            max_age=max_age,
            domain=domain,
            revalidate_after=revalidate_after,
        )
        self.integration = integration
        #: Which sessions this worker ended, and when the backend last confirmed live ones.
        self.liveness = Liveness(
            integration.clock,
            revalidate_after=self.config.revalidate_after,
            remember_ended=self.config.max_age,
        )
        self.store: SessionStore = (
            store if store is not None else MemorySessionStore(clock=integration.clock)
        )
        self.csrf = CsrfTokens(self.config.secret_keys)
        self._sealer = CookieSealer(self.config.secret_keys)
        self._refreshes: dict[str, _Refresh] = {}
        self.refresh_count = 0

    def __repr__(self) -> str:
        return f"PyAirtableAuth(mode={self.config.mode!r}, prefix={self.config.prefix!r})"

    def middleware(self) -> Middleware:
        """The middleware to list in ``Starlette(middleware=[...])`` or ``FastAPI(...)``."""
        return Middleware(WebSessionMiddleware, auth=self)

    def routes(self) -> list[BaseRoute]:
        """The login, logout, session and CSRF routes under the prefix."""
        from ._routes import auth_routes

        return auth_routes(self.config.prefix)

    def install(self, app: Starlette) -> None:
        """Add the middleware, the routes and the error handler to ``app`` (Starlette or FastAPI).

        Raises:
            RuntimeError: the app has already started.
        """
        app.add_middleware(WebSessionMiddleware, auth=self)
        app.router.routes.extend(self.routes())
        app.add_exception_handler(WebAuthError, handle_web_auth_error)

    async def fresh(self, session: Session) -> Session:
        """``session``, or its refreshed successor when its access token is due.

        Raises:
            AuthenticationError: the backend refused the refresh token.
            APIConnectionError: the backend could not be reached.
        """
        clock = self.integration.clock
        margin = self.integration.config.refresh_margin
        if not session.tokens.expires_within(margin, now=clock.now()):
            return session
        key = hashlib.sha256(session.tokens.refresh_token.encode()).hexdigest()
        now = clock.monotonic()
        entry = self._refreshes.get(key)
        if entry is None or (entry.keep_until is not None and entry.keep_until <= now):
            for stale in [
                k for k, e in self._refreshes.items() if e.keep_until and e.keep_until <= now
            ]:
                del self._refreshes[stale]
            entry = _Refresh(asyncio.ensure_future(self._refresh(session)))
            entry.task.add_done_callback(lambda task: self._refreshed(key, task))
            self._refreshes[key] = entry
        return await asyncio.shield(entry.task)

    def open_cookie(self, value: str | None) -> tuple[str, Session | None] | None:
        """The session id (and, in cookie mode, the session) a session cookie holds.

        None for a missing, forged, altered, expired or other-mode cookie.
        """
        if not value:
            return None
        now = int(self.integration.clock.now().timestamp())
        document = self._sealer.open(value, max_age=self.config.max_age, now=now)
        if document is None or document.get("v") != COOKIE_VERSION:
            return None
        session_id = document.get("sid")
        if not isinstance(session_id, str) or not session_id:
            return None
        if self.config.mode == "server":
            return None if "s" in document else (session_id, None)
        text = document.get("s")
        if not isinstance(text, str):
            return None
        try:
            return session_id, Session.from_json(text)
        except ValueError:
            return None

    def session_cookie(self, session_id: str, session: Session) -> str:
        """The ``Set-Cookie`` value holding the session (cookie mode) or its id (server mode)."""
        document: dict[str, object] = {"v": COOKIE_VERSION, "sid": session_id}
        if self.config.mode == "cookie":
            document["s"] = session.to_json()
        now = int(self.integration.clock.now().timestamp())
        value = self._sealer.seal(document, now=now)
        return self._cookie(self.config.cookie_name, value, http_only=True)

    def csrf_cookie(self, token: str) -> str:
        """The ``Set-Cookie`` value of the CSRF cookie (readable by the page's scripts)."""
        return self._cookie(self.config.csrf_cookie_name, token, http_only=False)

    def expired_cookie(self, name: str) -> str:
        """A ``Set-Cookie`` value that deletes cookie ``name``."""
        return self._cookie(name, "", http_only=True, max_age=0)

    async def _refresh(self, session: Session) -> Session:
        fresh = await self.integration.for_session(session).auth.refresh()
        self.refresh_count += 1
        return fresh

    def _refreshed(self, key: str, task: asyncio.Task[Session]) -> None:
        entry = self._refreshes.get(key)
        if entry is None or entry.task is not task:
            return
        if task.cancelled() or task.exception() is not None:
            del self._refreshes[key]  # the next request tries again
        else:
            entry.keep_until = self.integration.clock.monotonic() + ROTATION_MEMORY_SECONDS

    def _cookie(self, name: str, value: str, *, http_only: bool, max_age: int | None = None) -> str:
        config = self.config
        age = config.max_age if max_age is None else max_age
        parts = [f"{name}={value}", "Path=/", f"Max-Age={age}"]
        if age == 0:
            parts.append("Expires=Thu, 01 Jan 1970 00:00:00 GMT")
        if config.domain is not None:
            parts.append(f"Domain={config.domain}")
        if http_only:
            parts.append("HttpOnly")
        if config.secure:
            parts.append("Secure")
        parts.append(f"SameSite={config.same_site.capitalize()}")
        return "; ".join(parts)


class WebSessionMiddleware:
    """Gives every request its browser's session and writes session changes to its cookies."""

    def __init__(self, app: ASGIApp, *, auth: PyAirtableAuth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        browser = BrowserSession(self.auth, dict(HTTPConnection(scope).cookies))
        scope.setdefault("state", {})[STATE_KEY] = browser

        async def send_with_cookies(message: Message) -> None:
            # A websocket's handshake answer (websocket.accept) carries cookies like any other.
            if message["type"] in ("http.response.start", "websocket.accept"):
                cookies = await browser.commit()
                if cookies:
                    headers = list(message.get("headers", []))
                    headers.extend((b"set-cookie", value.encode("latin-1")) for value in cookies)
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cookies)
