"""Auth service (contract §3): accounts, sessions, token rotation, validation, permissions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from .. import audit
from ..access import require_workspace
from ..clock import utcnow
from ..db.models import AuthSession, RefreshToken, User
from ..deps import (
    DB,
    Context,
    CurrentUser,
    OptionalUser,
    Services,
    authenticate,
    caller_session,
    caller_user,
)
from ..errors import AuthError, Conflict, ValidationFailed, error_responses
from ..ids import new_id
from ..permissions import permissions_of
from ..schemas.auth import (
    ChangePasswordIn,
    LoginIn,
    LogoutIn,
    PermissionsOut,
    RefreshIn,
    RegisterIn,
    TokenPair,
    ValidateIn,
    ValidateOut,
)
from ..schemas.users import NameUpdate, UserOut
from ..security import password_policy, revocation
from ..services import AppServices
from .users import apply_name_update

router = APIRouter(prefix="/auth", tags=["auth"], responses=error_responses(422, 429, 500))
_AUTHED = error_responses(401)
# What any route with a JSON body may also answer: unparseable (400) or oversized (413) bodies.
_BODY = error_responses(400, 413)


def _pair(
    services: AppServices,
    user: User,
    session_id: str,
    refresh_token: str,
    *,
    issued_at: datetime,
    jti: str | None = None,
) -> TokenPair:
    """The login/refresh answer; fixed ``issued_at`` and ``jti`` reproduce the same access token."""
    access = services.tokens.issue_access(
        user_id=user.id, session_id=session_id, issued_at=issued_at, jti=jti
    )
    return TokenPair(
        access_token=access.token,
        refresh_token=refresh_token,
        expires_in=max(0, int((access.expires_at - utcnow()).total_seconds())),
        user=UserOut.model_validate(user),
    )


@router.post(
    "/register",
    status_code=201,
    response_model=UserOut,
    responses={**_BODY, **error_responses(409)},
)
async def register(body: RegisterIn, db: DB, services: Services, context: Context) -> User:
    """Create an account. Answers 409 when the email is already registered, 422 naming
    ``password`` for a common password or one containing the account's own words.

    Every attempt counts against the per-IP sign-up limit (429 past it), failed ones too: a
    409 tells whether an address has an account. The password is hashed between transactions,
    so the slow hash holds no other writer up (SQLite's write turn, ``db.write_turn``).
    """
    await services.attempts.reserve(db, [(services.auth_limits.registrations_per_ip, context.ip)])
    email = body.email.lower()
    weak = password_policy.refusal(
        body.password, email=email, first_name=body.first_name, last_name=body.last_name
    )
    if weak is not None:
        raise ValidationFailed.field("password", weak)
    taken = await db.scalar(select(User.id).where(User.email == email)) is not None
    await db.commit()  # nothing written: end the transaction before the slow hash
    if taken:
        raise Conflict(
            "An account with this email already exists.",
            details={"fields": {"email": "already registered"}},
        )
    password_hash = await services.passwords.hash(body.password)
    user = User(
        id=new_id("usr"),
        email=email,
        password_hash=password_hash,
        first_name=body.first_name,
        last_name=body.last_name,
    )
    db.add(user)
    audit.record(
        db,
        context,
        action="user.registered",
        resource_type="user",
        resource_id=user.id,
        user_id=user.id,
    )
    try:
        await db.commit()
    except IntegrityError as exc:  # a concurrent registration of the same email won the race
        raise Conflict(
            "An account with this email already exists.",
            details={"fields": {"email": "already registered"}},
        ) from exc
    return user


@router.post("/login", response_model=TokenPair, responses={**_BODY, **_AUTHED})
async def login(body: LoginIn, db: DB, services: Services, context: Context) -> TokenPair:
    """Exchange email and password for an access and a refresh token.

    Failed attempts are counted per account and per IP; past the limit the answer is 429 with
    ``Retry-After`` until the window frees up, whether or not the password is right. Each
    attempt is counted *before* its password is checked (and taken back when it was right), so
    concurrent guesses, on any number of processes, never get more checks than the limit.

    The password is checked (and rehashed when its parameters are outdated) between
    transactions: the account is read in the one that counts the attempt, the outcome written
    in a second, so the slow hash holds no other writer up.
    """
    email = body.email.strip().lower()
    limits = services.auth_limits
    user = await db.scalar(select(User).where(User.email == email))
    # Counts the attempt and commits, the read above included: no transaction is open below.
    reservation = await services.attempts.reserve(
        db, [(limits.login_per_account, email), (limits.login_per_ip, context.ip)]
    )
    password_ok = await services.passwords.verify(
        user.password_hash if user else None, body.password
    )
    if user is None or not password_ok or not user.is_active:
        audit.record(
            db,
            context,
            action="auth.login_failed",
            resource_type="user",
            resource_id=user.id if user else None,
            user_id=None,
            details={"email": email[:320]},
        )
        await db.commit()
        raise AuthError("Invalid email or password.")

    rehashed = (
        await services.passwords.hash(body.password)
        if services.passwords.needs_rehash(user.password_hash)
        else None
    )
    now = utcnow()
    if rehashed is not None:
        user.password_hash = rehashed
    session = AuthSession(
        id=new_id("ses"),
        user_id=user.id,
        expires_at=now + services.refresh_ttl,
        user_agent=context.user_agent,
        ip=context.ip,
        created_at=now,
        last_used_at=now,
    )
    refresh_token = services.tokens.new_refresh_token()
    db.add(session)
    await db.flush()  # the token row references the session row
    db.add(RefreshToken(session_id=session.id, token_hash=services.tokens.digest(refresh_token)))
    user.last_login_at = now
    audit.record(
        db,
        context,
        action="auth.login",
        resource_type="session",
        resource_id=session.id,
        user_id=user.id,
    )
    # A success is no failure: the IP's hit is taken back and the account's count starts over.
    await services.attempts.release(db, reservation)
    await services.attempts.clear(db, limits.login_per_account, email)
    await db.commit()
    return _pair(services, user, session.id, refresh_token, issued_at=now)


@router.post("/refresh", response_model=TokenPair, responses={**_BODY, **_AUTHED})
async def refresh(body: RefreshIn, db: DB, services: Services, context: Context) -> TokenPair:
    """Rotate a refresh token into a new pair.

    A token is good once. Presented again within the grace window it yields the same new pair
    (two tabs refreshing at once); presented later it is taken as stolen and the whole session
    is revoked. Raises ``AuthError`` for unknown, expired, reused or revoked tokens.
    """
    presented = body.refresh_token
    tokens = services.tokens
    row = (
        await db.execute(
            select(RefreshToken, AuthSession, User)
            .join(AuthSession, AuthSession.id == RefreshToken.session_id)
            .join(User, User.id == AuthSession.user_id)
            .where(RefreshToken.token_hash == tokens.digest(presented))
        )
    ).one_or_none()
    if row is None:
        raise AuthError("The refresh token is invalid.")
    token, session, user = row
    now = utcnow()
    if session.revoked_at is not None:
        raise AuthError("The session has been revoked; sign in again.")
    if session.expires_at <= now:
        raise AuthError("The session has expired; sign in again.")
    if not user.is_active:
        raise AuthError("The account is disabled.")

    successor = tokens.successor_refresh_token(presented)
    used_at = token.used_at
    if used_at is None:
        claimed = await db.execute(
            update(RefreshToken)
            .where(RefreshToken.id == token.id, RefreshToken.used_at.is_(None))
            .values(used_at=now)
        )
        if getattr(claimed, "rowcount", 0) == 1:
            db.add(RefreshToken(session_id=session.id, token_hash=tokens.digest(successor)))
            session.last_used_at = now
            await db.commit()
            return _pair(
                services,
                user,
                session.id,
                successor,
                issued_at=now,
                jti=tokens.successor_jti(presented),
            )
        # Another request rotated this token between our read and our update.
        used_at = await db.scalar(select(RefreshToken.used_at).where(RefreshToken.id == token.id))
        assert used_at is not None

    if now - used_at <= services.refresh_grace:
        return _pair(
            services,
            user,
            session.id,
            successor,
            issued_at=used_at,
            jti=tokens.successor_jti(presented),
        )
    session.revoked_at = now
    session.revoked_reason = "refresh_token_reuse"
    audit.record(
        db,
        context,
        action="auth.refresh_reuse_detected",
        resource_type="session",
        resource_id=session.id,
        user_id=user.id,
    )
    notice = await revocation.announce(db, user.id, "refresh_token_reuse", actor=user.id, now=now)
    await db.commit()
    services.hub.committed(notice)
    raise AuthError("The refresh token was already used; the session has been revoked.")


@router.post(
    "/logout",
    status_code=204,
    responses={**_BODY, **_AUTHED},
    # The bearer token is optional here: a refresh token in the body is enough. FastAPI lists the
    # scheme as required; the empty requirement added to it says "or no token at all".
    openapi_extra={"security": [{}]},
)
async def logout(
    db: DB,
    services: Services,
    context: Context,
    caller: OptionalUser,
    body: LogoutIn | None = None,
) -> Response:
    """End a session: the one of the given refresh token, else the caller's current one.

    Its access tokens stop working at once, and its WebSocket and SSE streams are closed on
    every instance (``security.revocation``). Raises ``AuthError`` with neither credential.
    """
    session: AuthSession | None = None
    if body is not None and body.refresh_token is not None:
        session = await db.scalar(
            select(AuthSession)
            .join(RefreshToken, RefreshToken.session_id == AuthSession.id)
            .where(RefreshToken.token_hash == services.tokens.digest(body.refresh_token))
        )
        if session is None or (caller is not None and session.user_id != caller.id):
            raise AuthError("The refresh token is invalid.")
    elif caller is not None:
        session = await caller_session(db, caller)
    else:
        raise AuthError("Send the refresh token to end, or an access token.")
    if session.revoked_at is None:
        now = utcnow()
        session.revoked_at = now
        session.revoked_reason = "logout"
        audit.record(
            db,
            context,
            action="auth.logout",
            resource_type="session",
            resource_id=session.id,
            user_id=session.user_id,
        )
        notice = await revocation.announce(
            db, session.user_id, "logout", actor=session.user_id, now=now
        )
        await db.commit()
        services.hub.committed(notice)
    return Response(status_code=204)


@router.get("/me", response_model=UserOut, responses=_AUTHED)
async def get_me(caller: CurrentUser, db: DB) -> User:
    """The caller's account."""
    return await caller_user(db, caller)


@router.put("/me", response_model=UserOut, responses={**_BODY, **_AUTHED})
async def update_me(body: NameUpdate, caller: CurrentUser, db: DB, context: Context) -> User:
    """Change the caller's first or last name."""
    user = await caller_user(db, caller)
    apply_name_update(user, body)
    audit.record(
        db,
        context,
        action="user.updated",
        resource_type="user",
        resource_id=caller.id,
        user_id=caller.id,
        details={"fields": sorted(body.model_fields_set)},
    )
    await db.commit()
    return user


@router.post("/change-password", status_code=204, responses={**_BODY, **_AUTHED})
async def change_password(
    body: ChangePasswordIn, caller: CurrentUser, db: DB, services: Services, context: Context
) -> Response:
    """Replace the password and revoke every other session of the account (closing their
    streams on every instance).

    A wrong current password answers 422 and counts as a failed login for the account; a
    common new password, or one containing the account's own words, is 422 too. Both
    passwords are checked and hashed between transactions, holding no other writer up.
    """
    user = await caller_user(db, caller)
    limit = services.auth_limits.login_per_account
    # Counts the attempt and commits (the caller's lookup included): no transaction is open.
    reservation = await services.attempts.reserve(db, [(limit, user.email)])
    if not await services.passwords.verify(user.password_hash, body.current_password):
        raise ValidationFailed.field("current_password", "does not match the current password")
    refusal = (
        "must differ from the current password"
        if body.new_password == body.current_password
        else password_policy.refusal(
            body.new_password,
            email=user.email,
            first_name=user.first_name,
            last_name=user.last_name,
        )
    )
    if refusal is not None:
        await services.attempts.release(db, reservation)
        await db.commit()
        raise ValidationFailed.field("new_password", refusal)
    password_hash = await services.passwords.hash(body.new_password)
    await services.attempts.release(db, reservation)
    now = utcnow()
    user.password_hash = password_hash
    user.password_changed_at = now
    user.updated_at = now
    await db.execute(
        update(AuthSession)
        .where(
            AuthSession.user_id == user.id,
            AuthSession.id != caller.session.id,
            AuthSession.revoked_at.is_(None),
        )
        .values(revoked_at=now, revoked_reason="password_changed")
    )
    audit.record(
        db,
        context,
        action="auth.password_changed",
        resource_type="user",
        resource_id=user.id,
        user_id=user.id,
    )
    notice = await revocation.announce(db, user.id, "password_changed", actor=user.id, now=now)
    await db.commit()
    services.hub.committed(notice)
    return Response(status_code=204)


@router.post("/validate", response_model=ValidateOut, responses=_BODY)
async def validate(body: ValidateIn, db: DB, services: Services) -> ValidateOut:
    """Say whether an access token is good now (signature, claims, live session)."""
    try:
        principal = await authenticate(body.token, db, services)
    except AuthError:
        return ValidateOut(valid=False)
    return ValidateOut(valid=True, claims=principal.claims.raw)


@router.get("/permissions", response_model=PermissionsOut, responses=error_responses(401, 404))
async def permissions(
    caller: CurrentUser,
    db: DB,
    resource_type: Annotated[Literal["workspace"], Query()],
    resource_id: Annotated[str, Query(max_length=64)],
) -> PermissionsOut:
    """The caller's role on a resource and what it allows. 404 when the caller is no member."""
    _, role = await require_workspace(db, caller.id, resource_id, "workspace:read")
    return PermissionsOut(
        resource_type=resource_type,
        resource_id=resource_id,
        role=role,
        permissions=permissions_of(role),
    )
