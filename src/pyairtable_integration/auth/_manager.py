"""Sign-in, tokens kept fresh with one refresh at a time, session events and permission checks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import ValidationError as PydanticValidationError

from .._clock import Clock
from .._errors import (
    APIConnectionError,
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ResponseValidationError,
    ServerError,
    ServiceError,
)
from .._ids import check_id
from .._subscribable import Listeners
from ..transport import Transport
from ..types import Permissions, TokenPair, User
from ._session import Session
from ._store import TokenStore

logger = logging.getLogger("pyairtable_integration.auth")

SessionEventKind = Literal["signed_in", "refreshed", "signed_out", "ended"]
REFRESH_RETRY_SECONDS = 5.0  # wait after a refresh that failed for lack of network
# A refresh that failed this way leaves the refresh token unused: the session is intact and the
# refresh can be tried again later (the backend was unreachable, failing or busy).
_TRANSIENT = (APIConnectionError, ServerError, RateLimitedError)


@dataclass(frozen=True)
class SessionEvent:
    """A change of session: sign-in, refresh, sign-out, or the session ended by the backend.

    ``reason`` says why an ``ended`` session ended (a refused refresh token, say).
    """

    kind: SessionEventKind
    session: Session | None
    reason: str | None = None


SessionListener = Callable[[SessionEvent], None]


class AuthManager:
    """Owns the session: signs in and out, keeps the access token fresh, answers role checks.

    The access token is renewed proactively, ``refresh_margin`` seconds before it expires (by
    ``keep_fresh`` in the background and before any request that would send an older token),
    and reactively when a request gets 401. However many callers need a new token at once,
    exactly one refresh request is sent and all of them wait for it. A refresh the backend
    refuses ends the session: the store is cleared and listeners get an ``ended`` event.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        store: TokenStore,
        clock: Clock,
        refresh_margin: float,
        permissions_ttl: float,
    ) -> None:
        self._transport = transport
        self._store = store
        self._clock = clock
        self.refresh_margin = refresh_margin
        self.permissions_ttl = permissions_ttl
        self._session = store.load()
        self._refreshing: asyncio.Task[Session] | None = None
        self._listeners: Listeners[SessionEvent] = Listeners("session")
        self._permissions: dict[str, tuple[float, Permissions]] = {}
        self._changed = asyncio.Event()
        self.refresh_count = 0

    @property
    def session(self) -> Session | None:
        """The current session, or None when signed out."""
        return self._session

    @property
    def user(self) -> User | None:
        """The signed-in user, or None."""
        return None if self._session is None else self._session.user

    @property
    def is_authenticated(self) -> bool:
        """Whether a session is held (its access token may still need a refresh)."""
        return self._session is not None

    def on_session_change(self, listener: SessionListener) -> Callable[[], None]:
        """Call ``listener`` on every session change; returns a function that stops it.

        A listener's failure is logged and never undoes the change (``Listeners``)."""
        return self._listeners.subscribe(listener)

    async def login(self, email: str, password: str) -> Session:
        """Sign in and keep the session.

        Raises:
            AuthenticationError: wrong email or password, or an inactive account.
            RateLimitedError: too many failed sign-ins.
            APIConnectionError: the backend could not be reached.
        """
        response = await self._transport.request(
            "auth",
            "POST",
            "/auth/login",
            json={"email": email, "password": password},
            authenticated=False,
        )
        session = Session.from_token_pair(_token_pair(response.content), now=self._clock.now())
        self._begin(session, "signed_in")
        return session

    async def set_session(self, session: Session | None) -> None:
        """Adopt ``session`` (one restored by the app), or sign out locally when None."""
        if session is None:
            self._end("signed_out", None)
        else:
            self._begin(session, "signed_in")

    async def logout(self) -> None:
        """Revoke the session on the backend and forget it here.

        The local session is forgotten even when the backend cannot be reached (the refresh
        token then expires on its own); that failure is logged, not raised.
        """
        session = self._session
        if session is None:
            return
        try:
            await self._transport.request(
                "auth",
                "POST",
                "/auth/logout",
                json={"refresh_token": session.tokens.refresh_token},
            )
        except (APIConnectionError, AuthenticationError) as exc:
            logger.warning("sign-out could not reach the backend (%s); signed out locally", exc)
        finally:
            self._end("signed_out", None)

    async def refresh(self) -> Session:
        """Exchange the refresh token for a new pair; concurrent callers share one request.

        Raises:
            AuthenticationError: signed out, or the backend refused the refresh token (the
                session has then ended).
            APIConnectionError: the backend could not be reached; the session is kept.
        """
        if self._refreshing is None:
            session = self._session
            if session is None:
                raise AuthenticationError("Not signed in.", code=None)
            adopted = self._adopt_stored(session)
            if adopted is not None:
                return adopted
            self._refreshing = asyncio.ensure_future(self._refresh(session))
            self._refreshing.add_done_callback(self._refresh_done)
        return await asyncio.shield(self._refreshing)

    async def authorization(self) -> str | None:
        """The ``Authorization`` header for a request, refreshing first when the token is due.

        When a due refresh fails for lack of network (or a 5xx or 429 answer) but the token has
        not yet expired, the current token is used.

        Raises:
            AuthenticationError: the session ended during the refresh.
            APIConnectionError: the token has expired and could not be refreshed (likewise
                ``ServerError`` or ``RateLimitedError`` when the backend answered so).
        """
        session = self._session
        if session is None:
            return None
        now = self._clock.now()
        if session.tokens.expires_within(self.refresh_margin, now=now):
            try:
                session = await self.refresh()
            except _TRANSIENT:
                if session.tokens.expires_within(0, now=self._clock.now()):
                    raise
        return session.tokens.authorization

    async def recover(self, rejected: str) -> bool:
        """A request sent with ``rejected`` got 401: get a newer token if there can be one.

        True when a token other than ``rejected`` is now current (another caller refreshed, or
        this call did); False when the session has ended.

        Raises:
            APIConnectionError: the refresh could not reach the backend.
        """
        session = self._session
        if session is None:
            return False
        if session.tokens.authorization != rejected:
            return True
        try:
            await self.refresh()
        except AuthenticationError:
            return False
        return True

    async def keep_fresh(self) -> None:
        """Refresh the access token ``refresh_margin`` before it expires, for as long as it runs.

        Meant to run in the integration's task group; it waits while signed out, and after a
        refresh that failed for lack of network it tries again every few seconds.
        """
        while True:
            session = self._session
            if session is None:
                await self._wait_for_change(None)
                continue
            due = (session.expires_at - self._clock.now()).total_seconds() - self.refresh_margin
            if due > 0:
                await self._wait_for_change(due)
                continue
            try:
                await self.refresh()
            except AuthenticationError:
                continue  # the session ended and listeners were told
            except _TRANSIENT as exc:
                logger.info("token refresh failed (%s); trying again shortly", exc.type)
                await self._wait_for_change(REFRESH_RETRY_SECONDS)
            except ServiceError as exc:
                # An answer the SDK cannot read (a proxy's page, a newer backend): the refresh
                # token may or may not be spent, so the session is kept and requests decide.
                logger.warning("token refresh failed unexpectedly: %r", exc)
                await self._wait_for_change(REFRESH_RETRY_SECONDS)

    async def permissions(self, workspace_id: str) -> Permissions:
        """The caller's role and permissions in a workspace, cached for ``permissions_ttl``.

        Raises:
            NotFoundError: the caller is not a member of the workspace (or it does not exist).
            AuthenticationError: signed out or the session ended.
            InvalidIdError: ``workspace_id`` is not a workspace id (nothing is sent).
        """
        check_id(workspace_id, "wsp")
        cached = self._permissions.get(workspace_id)
        if cached is not None and cached[0] > self._clock.monotonic():
            return cached[1]
        response = await self._transport.request(
            "auth",
            "GET",
            "/auth/permissions",
            params={"resource_type": "workspace", "resource_id": workspace_id},
        )
        try:
            permissions = Permissions.model_validate_json(response.content)
        except PydanticValidationError as exc:
            raise ResponseValidationError(
                f"/auth/permissions answered an unexpected shape: {exc}", service="auth"
            ) from exc
        self._permissions[workspace_id] = (
            self._clock.monotonic() + self.permissions_ttl,
            permissions,
        )
        return permissions

    async def can(self, permission: str, *, workspace_id: str) -> bool:
        """Whether the signed-in user holds ``permission`` (``"record:write"``) in a workspace.

        Not being a member is False, not an error.

        Raises:
            AuthenticationError: signed out or the session ended.
            APIConnectionError: the permissions could not be fetched.
        """
        try:
            permissions = await self.permissions(workspace_id)
        except NotFoundError:
            return False
        return permission in permissions.permissions

    async def require(self, permission: str, *, workspace_id: str) -> None:
        """Return when the user holds ``permission`` in the workspace.

        Raises:
            PermissionDeniedError: they do not.
        """
        if not await self.can(permission, workspace_id=workspace_id):
            raise PermissionDeniedError(
                f"You need {permission} in this workspace.",
                code=None,
                details={"permission": permission, "workspace_id": workspace_id},
                service="auth",
            )

    def has_role(self, *roles: str) -> bool:
        """Whether the signed-in user's platform role is one of ``roles``."""
        return self._session is not None and self._session.has_role(*roles)

    async def _refresh(self, session: Session) -> Session:
        try:
            response = await self._transport.request(
                "auth",
                "POST",
                "/auth/refresh",
                json={"refresh_token": session.tokens.refresh_token},
                authenticated=False,
            )
        except AuthenticationError as exc:
            if self._session is session:
                self._end("ended", exc.message)
            raise
        fresh = Session.from_token_pair(_token_pair(response.content), now=self._clock.now())
        self.refresh_count += 1
        if self._session is session:
            self._begin(fresh, "refreshed")
        return fresh

    def _adopt_stored(self, session: Session) -> Session | None:
        """The store's newer session of the same user, adopted, when one still needs no refresh.

        The store may be shared (a web session entry that another process or page refreshes):
        spending our older refresh token after someone else rotated it would look like theft
        to the backend and revoke the whole session.
        """
        stored = self._store.load()
        if (
            stored is None
            or stored.tokens.refresh_token == session.tokens.refresh_token
            or stored.user_id != session.user_id
            or stored.tokens.expires_within(self.refresh_margin, now=self._clock.now())
        ):
            return None
        self._begin(stored, "refreshed")
        return stored

    def __repr__(self) -> str:
        user = None if self._session is None else self._session.user_id
        return f"AuthManager(user_id={user!r}, store={self._store!r})"

    def _refresh_done(self, task: asyncio.Task[Session]) -> None:
        if self._refreshing is task:
            self._refreshing = None
        if not task.cancelled():
            task.exception()  # the callers saw it; a refresh nobody awaited is not an error

    def _begin(self, session: Session, kind: SessionEventKind) -> None:
        if kind == "signed_in":
            self._permissions.clear()
        self._session = session
        self._store.save(session)
        self._emit(SessionEvent(kind, session))

    def _end(self, kind: SessionEventKind, reason: str | None) -> None:
        self._session = None
        self._permissions.clear()
        self._store.clear()
        self._emit(SessionEvent(kind, None, reason))

    def _emit(self, event: SessionEvent) -> None:
        self._changed.set()
        self._listeners.emit(event)

    async def _wait_for_change(self, seconds: float | None) -> None:
        self._changed.clear()
        if seconds is None:
            await self._changed.wait()
            return
        sleeper = asyncio.ensure_future(self._clock.sleep(seconds))
        waiter = asyncio.ensure_future(self._changed.wait())
        try:
            await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waiter.cancel()


def _token_pair(body: bytes) -> TokenPair:
    try:
        return TokenPair.model_validate_json(body)
    except PydanticValidationError as exc:
        raise ResponseValidationError(
            f"The sign-in answer is not a token pair: {exc}", service="auth"
        ) from exc
