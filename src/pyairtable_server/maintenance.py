"""Housekeeping the server runs in the background: event retention, expired idempotent answers,
attempt counters whose window has passed, private files no record attached in time, bytes no
file row points at (a crash between storing and committing), per-field indexes left behind or
missing."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

import anyio
from sqlalchemy import delete, select

from . import events
from .changes import IDEMPOTENCY_TTL
from .clock import utcnow
from .data import indexes
from .db.engine import Database
from .db.models import IdempotentAnswer, StoredFile
from .security import attempts
from .settings import Settings
from .storage import Storage, remove_unreferenced, storage_for

logger = logging.getLogger("pyairtable_server.maintenance")
#: Private files deleted per transaction by ``collect_private_files``.
COLLECT_BATCH = 500


async def run_once(db: Database, settings: Settings, storage: Storage | None = None) -> int:
    """Prune the event log, forget idempotent answers past 24 hours and attempt windows that have
    passed, collect private files older than ``private_file_grace_seconds`` (from ``storage``,
    default: the settings' one) and bytes no file row points at that were written as long ago,
    and reconcile the per-field indexes with the fields (PostgreSQL,
    see ``data.indexes.reconcile``); return the new ``pruned_through`` of the event log."""
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
    storage = storage if storage is not None else storage_for(settings)
    grace = timedelta(seconds=settings.private_file_grace_seconds)
    await collect_private_files(db, storage, uploaded_before=now - grace)
    await collect_orphaned_bytes(db, storage, written_before=now - grace)
    built, dropped = await indexes.reconcile(
        db.engine, dialect="sqlite" if db.is_sqlite else "postgresql"
    )
    if built or dropped:
        logger.info("field indexes reconciled: %d built, %d dropped", built, dropped)
    return pruned


async def collect_private_files(
    db: Database, storage: Storage, *, uploaded_before: datetime
) -> int:
    """Delete the private files (uploaded without a table, never attached) uploaded before
    ``uploaded_before``: their rows, then their bytes, which frees their uploaders' quota.
    Return how many rows went.

    A record write that attaches such a file concurrently either commits first (the file is
    no longer private, and stays) or waits for the row lock and then finds the file gone (422,
    as for any unknown file). Bytes that cannot be removed are logged and left unreferenced.
    """
    collected = 0
    while True:
        async with db.writer() as session:
            stale = (
                StoredFile.workspace_id.is_(None),
                StoredFile.uploaded_at < uploaded_before,
            )
            batch = select(StoredFile.id).where(*stale).order_by(StoredFile.id).limit(COLLECT_BATCH)
            # The conditions again on the rows themselves: PostgreSQL re-checks them after
            # waiting for a row a record write is attaching.
            ids = list(
                await session.scalars(
                    delete(StoredFile)
                    .where(StoredFile.id.in_(batch), *stale)
                    .returning(StoredFile.id)
                )
            )
            await session.commit()
        await remove_unreferenced(storage, ids, whose="collected private file")
        collected += len(ids)
        if len(ids) < COLLECT_BATCH:
            break
    if collected:
        logger.info("collected %d private files never attached to a record", collected)
    return collected


async def collect_orphaned_bytes(
    db: Database, storage: Storage, *, written_before: datetime
) -> int:
    """Remove the blobs written before ``written_before`` that no file row points at, and the
    uploads abandoned before it; return how many blobs went.

    An upload stores its bytes, then commits its row; a crash (or a lost database) between the
    two leaves bytes nobody can reach or delete, which would count against the disk forever.
    The grace period is the private files' one, far longer than any upload, so an upload still
    on its way to its commit is never taken for an orphan.
    """
    cutoff = written_before.timestamp()
    await storage.remove_abandoned_uploads(cutoff)
    keys = await storage.keys_written_before(cutoff)
    orphans: list[str] = []
    for start in range(0, len(keys), COLLECT_BATCH):
        batch = keys[start : start + COLLECT_BATCH]
        async with db.reader() as session:
            known = set(
                await session.scalars(select(StoredFile.id).where(StoredFile.id.in_(batch)))
            )
        orphans.extend(key for key in batch if key not in known)
    await remove_unreferenced(storage, orphans, whose="orphaned blob")
    if orphans:
        logger.info("removed %d stored blobs no file row points at", len(orphans))
    return len(orphans)


async def run_forever(db: Database, settings: Settings, storage: Storage) -> None:
    """``run_once`` (with ``storage``) every ``maintenance_interval_seconds`` until cancelled.

    A failed round is logged and retried next interval: housekeeping must never take the server
    down, and a database that is briefly away is not a reason to stop.
    """
    while True:
        await anyio.sleep(settings.maintenance_interval_seconds)
        try:
            await run_once(db, settings, storage)
        except Exception:
            logger.exception("maintenance round failed; retrying next interval")
