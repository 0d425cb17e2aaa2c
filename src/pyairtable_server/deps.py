"""FastAPI dependencies: the request's database session, caller, and context."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from .clock import utcnow
from .db.driver import Statement, driver_of
from .db.models import AuthSession, User, table_of
from .errors import AuthError, request_id_of
from .http.rate_limit import client_ip
from .security.tokens import AccessClaims
from .services import AppServices

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# Dependencies are ``async def`` even without awaits: FastAPI runs plain ``def`` ones in a thread.
async def get_services(request: Request) -> AppServices:
    services = request.app.state.services
    assert isinstance(services, AppServices)
    return services


Services = Annotated[AppServices, Depends(get_services)]


def session_for(request: Request, services: AppServices) -> AsyncSession:
    """The session of a request: a reader for safe methods, a writer for the rest.

    On SQLite each transaction of a writer waits for the process's write turn (a FIFO queue) at
    its first statement and gives it back at commit or rollback: slow work a handler does
    between transactions (Argon2, an outbound POST) holds no other writer up.
    """
    if request.method in _READ_METHODS:
        return services.db.reader()
    return services.db.writer()


async def get_db(request: Request, services: Services) -> AsyncIterator[AsyncSession]:
    """One session per request (see ``session_for``).

    Handlers commit explicitly; anything not committed is rolled back when the request ends.
    """
    if request.method in _READ_METHODS and services.db.inline:
        # Closed here rather than by ``async with``, whose exit runs ``close()`` in a task of its
        # own, shielded from cancellation: three passes of the event loop during which the
        # session keeps its pooled connection, each pass behind every other request's work.
        # At 16 lists in flight that kept 16 more connections busy ~150 ms after their answers,
        # the pool ran dry, and the requests that opened new connections waited for half a
        # second. Closing an inline reader only rolls back a read, with nothing to wait for, so
        # no cancellation can land in the middle of it (the shield's reason to be).
        reader = services.db.reader()
        try:
            yield reader
        finally:
            await reader.close()
        return
    async with session_for(request, services) as session:
        yield session


DB = Annotated[AsyncSession, Depends(get_db)]


@dataclass(frozen=True)
class RequestContext:
    request_id: str | None
    ip: str
    user_agent: str | None


async def get_context(request: Request) -> RequestContext:
    return RequestContext(
        request_id=request_id_of(request),
        ip=client_ip(request.scope),
        user_agent=(request.headers.get("user-agent") or "")[:512] or None,
    )


Context = Annotated[RequestContext, Depends(get_context)]


@dataclass(frozen=True)
class SessionRef:
    """The caller's login session, found live by this request's check."""

    id: str
    expires_at: datetime


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: their user id and account role, their live session and the
    token's claims, as the per-request session check read them (plain values: routes that change
    the user or the session load those rows with ``caller_user`` and ``caller_session``)."""

    id: str
    role: str
    session: SessionRef
    claims: AccessClaims


_bearer = HTTPBearer(auto_error=False, description="An access token from /auth/login.")
#: The bearer credentials as sent, unchecked: for routes that authenticate on their own terms.
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


_USERS, _SESSIONS = table_of(User), table_of(AuthSession)
# Run on the driver (see ``db.driver``): every authenticated request runs it, and SQLAlchemy's
# execution of it, with two ORM objects built from its row, cost more than the rest of a read.
_SESSION_CHECK = Statement(
    select(_USERS.c.is_active, _USERS.c.role, _SESSIONS.c.revoked_at, _SESSIONS.c.expires_at)
    .join(_SESSIONS, _SESSIONS.c.user_id == _USERS.c.id)
    .where(_USERS.c.id == bindparam("user_id"), _SESSIONS.c.id == bindparam("session_id"))
)


async def authenticate(token: str, db: AsyncSession, services: AppServices) -> Principal:
    """Check an access token and the live state behind it (user active, session not revoked),
    in ``db``'s transaction (a writer's begins here).

    Raises ``AuthError`` for anything short of that.
    """
    claims = services.tokens.decode_access(token)
    driver = await driver_of(db)
    row = await driver.one(
        _SESSION_CHECK, {"user_id": claims.user_id, "session_id": claims.session_id}
    )
    if row is None:
        raise AuthError("The access token is invalid.")
    is_active, role, revoked_at, expires_at = row
    if revoked_at is not None or expires_at <= utcnow():
        raise AuthError("The session has ended; sign in again.")
    if not is_active:
        raise AuthError("The account is disabled.")
    return Principal(
        id=claims.user_id,
        role=role,
        session=SessionRef(id=claims.session_id, expires_at=expires_at),
        claims=claims,
    )


async def caller_user(db: AsyncSession, caller: Principal) -> User:
    """The caller's user row, in ``db`` (for routes that show or change it).

    Raises ``AuthError`` if it is gone (deleted since the check, in another transaction).
    """
    user = await db.get(User, caller.id)
    if user is None:
        raise AuthError("The access token is invalid.")
    return user


async def caller_session(db: AsyncSession, caller: Principal) -> AuthSession:
    """The caller's session row, in ``db`` (for routes that end it).

    Raises ``AuthError`` if it is gone.
    """
    session = await db.get(AuthSession, caller.session.id)
    if session is None:
        raise AuthError("The access token is invalid.")
    return session


async def get_optional_principal(
    db: DB,
    services: Services,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """The caller if a token was sent (then it must be valid: ``AuthError``), else None."""
    if credentials is None:
        return None
    return await authenticate(credentials.credentials, db, services)


async def get_principal(
    caller: Annotated[Principal | None, Depends(get_optional_principal)],
) -> Principal:
    """The caller of an authenticated route. Raises ``AuthError`` (401) without a valid token."""
    if caller is None:
        raise AuthError("Authentication required: send 'Authorization: Bearer <access token>'.")
    return caller


CurrentUser = Annotated[Principal, Depends(get_principal)]
OptionalUser = Annotated[Principal | None, Depends(get_optional_principal)]
