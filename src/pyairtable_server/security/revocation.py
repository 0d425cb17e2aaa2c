"""Ending sessions everywhere at once: the revocation notice in the event log, read by every hub.

REST requests check the session on every call, so a revoked session's access token stops at
once there. A live WebSocket or SSE stream authenticated once, so something must tell every
server instance holding one of the session's streams. That something is the event log: ending a
session (logout, password change, refresh-token reuse, deactivation) appends a
``session.revoked`` notice in the same transaction. The log is already the one ordered, durable
feed every instance's hub follows (with a Redis hint at once, by polling without Redis), so the
notice reaches every instance exactly as events do, and is never lost.

A notice names only the *user*; it carries no authority. The hub that reads it asks the
database which of that user's connected sessions have ended (``ended``) and closes those, so a
notice can neither end a live session nor spare an ended one. Notices have no workspace and no
recipients: no client ever reads them (``events.visible_to``), and webhooks, which match by
workspace, never see them.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .. import events
from ..clock import utcnow
from ..db.engine import Database
from ..db.models import AuthSession, User
from ..settings import Settings

logger = logging.getLogger("pyairtable_server.security")

#: The type of the notice; its channel (``session``) is none a client can subscribe to.
REVOKED = "session.revoked"


def notice(user_id: str, reason: str) -> events.EventDraft:
    """The log entry telling every hub that some of ``user_id``'s sessions ended."""
    return events.EventDraft(
        REVOKED,
        aggregate_id=user_id,
        aggregate_type="user",
        workspace_id=None,
        payload={"user_id": user_id, "reason": reason},
    )


async def announce(
    db: AsyncSession, user_id: str, reason: str, *, actor: str | None, now: datetime
) -> list[events.Logged]:
    """Append the notice to the current transaction (call last before commit, as any event).

    Hand what it returns to the hub (``Hub.committed``) after the commit.
    """
    return await events.append(db, [notice(user_id, reason)], user_id=actor, now=now)


async def ended(db: AsyncSession, session_ids: Collection[str], *, now: datetime) -> set[str]:
    """Which of ``session_ids`` are no longer live: revoked, expired, gone, or their user
    deactivated."""
    if not session_ids:
        return set()
    live = await db.scalars(
        select(AuthSession.id)
        .join(User, User.id == AuthSession.user_id)
        .where(
            AuthSession.id.in_(session_ids),
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > now,
            User.is_active.is_(True),
        )
    )
    return set(session_ids) - set(live)


async def deactivate(db: AsyncSession, email: str, *, now: datetime) -> list[events.Logged]:
    """Deactivate the account of ``email`` and end every session of it (not committed).

    Returns the notice to hand to a hub after commit. Raises ``LookupError`` for an unknown
    email.
    """
    user = await db.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise LookupError(email)
    user.is_active = False
    user.updated_at = now
    await db.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason="deactivated")
    )
    return await announce(db, user.id, "deactivated", actor=None, now=now)


async def deactivate_account(settings: Settings, email: str) -> None:
    """``deactivate`` on the configured database, committed; then a Redis hint, if configured,
    so that running servers close the account's streams at once.

    Raises ``LookupError`` for an unknown email; the database's errors as they come.
    """
    db = Database(settings.resolved_database_url)
    try:
        async with db.writer() as session:
            logged = await deactivate(session, email, now=utcnow())
            await session.commit()
    finally:
        await db.dispose()
    if settings.redis_url:
        from redis.exceptions import RedisError  # the `redis` extra

        from ..realtime.broker import publish_hint

        try:
            await publish_hint(settings.redis_url, settings.realtime_channel, logged[-1].seq)
        except (RedisError, OSError):
            # The servers' log poll still finds the notice within one interval.
            logger.warning("could not reach Redis; running servers learn within a poll interval")
