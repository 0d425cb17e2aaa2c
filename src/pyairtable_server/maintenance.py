"""Housekeeping the server runs in the background: event retention, expired idempotent answers,
attempt counters whose window has passed, per-field indexes left behind or missing."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import anyio
from sqlalchemy import delete

from . import events
from .changes import IDEMPOTENCY_TTL
from .clock import utcnow
from .data import indexes
from .db.engine import Database
from .db.models import IdempotentAnswer
from .security import attempts
from .settings import Settings

logger = logging.getLogger("pyairtable_server.maintenance")


async def run_once(db: Database, settings: Settings) -> int:
    """Prune the event log, forget idempotent answers past 24 hours and attempt windows that have
    passed, and reconcile the per-field indexes with the fields (PostgreSQL, see
    ``data.indexes.reconcile``); return the new ``pruned_through`` of the event log."""
    now = utcnow()
    async with db.writer() as session:
        pruned = await events.prune(
            session,
            now=now,
            max_age=timedelta(seconds=settings.event_retention_seconds),
            max_events=settings.event_retention_count,
        )
    async with db.writer() as session:
        await session.execute(
            delete(IdempotentAnswer).where(IdempotentAnswer.created_at < now - IDEMPOTENCY_TTL)
        )
        await session.commit()
    async with db.writer() as session:
        await attempts.prune(session, now=time.time())
    built, dropped = await indexes.reconcile(
        db.engine, dialect="sqlite" if db.is_sqlite else "postgresql"
    )
    if built or dropped:
        logger.info("field indexes reconciled: %d built, %d dropped", built, dropped)
    return pruned


async def run_forever(db: Database, settings: Settings) -> None:
    """``run_once`` every ``maintenance_interval_seconds`` until cancelled.

    A failed round is logged and retried next interval: housekeeping must never take the server
    down, and a database that is briefly away is not a reason to stop.
    """
    while True:
        await anyio.sleep(settings.maintenance_interval_seconds)
        try:
            await run_once(db, settings)
        except Exception:
            logger.exception("maintenance round failed; retrying next interval")
