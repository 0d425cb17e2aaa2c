"""Turn new events of the log into deliveries, each exactly once, from any number of processes.

One row (``webhook_dispatch_state``) holds the last ``seq`` dispatched. A round locks it (``SELECT
… FOR UPDATE`` on PostgreSQL; on SQLite the write transaction already holds the database), reads
the events after it, inserts one delivery per event and matching active webhook, moves the
cursor, and commits: a round that fails changes nothing, and a second process waits for the lock
and then starts where the first stopped.

The log's head is read before the webhooks: an event committed after a webhook was created has a
``seq`` above the head that webhook saw, and is read in a round that also sees the webhook, so
nothing that happens after a webhook exists is missed. For the same reason the webhooks read
are only those whose member still holds ``webhook:write`` (``accountability``): an event
committed after their access was taken away is read in a round that sees it gone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.engine import Database
from ..db.models import Event, Webhook, WebhookDelivery, WebhookDispatchState
from ..events import position, to_wire
from ..ids import new_id
from .accountability import accountable
from .policy import wants

STATE_ROW = 1


@dataclass(frozen=True)
class DispatchRound:
    #: Deliveries created.
    deliveries: int
    #: Whether events are left for another round (the batch was full).
    more: bool


def event_body(event: dict[str, object]) -> str:
    """The delivery body: the event of contract §8 as compact JSON, signed exactly as sent."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


async def _locked_cursor(session: AsyncSession, *, is_sqlite: bool) -> WebhookDispatchState:
    # Created on first use (a fresh or emptied database): starting at 0 is safe, since each
    # webhook only takes events after its own ``created_after_seq``.
    dialect_insert = sqlite.insert if is_sqlite else postgresql.insert
    await session.execute(
        dialect_insert(WebhookDispatchState)
        .values(id=STATE_ROW, dispatched_seq=0)
        .on_conflict_do_nothing(index_elements=["id"])
    )
    return (
        await session.scalars(
            select(WebhookDispatchState)
            .where(WebhookDispatchState.id == STATE_ROW)
            .with_for_update()
        )
    ).one()


async def any_active(db: Database) -> bool:
    """Whether any webhook is active (a cheap read: without one, commits need no round)."""
    async with db.reader() as session:
        found = await session.scalar(select(Webhook.id).where(Webhook.is_active.is_(True)).limit(1))
    return found is not None


async def pending_events(db: Database) -> bool:
    """Whether the log holds events not dispatched yet that an active webhook could want (a
    cheap read before taking the lock).

    Without such a webhook the cursor is left behind rather than moved in a write transaction
    per commit: a webhook created later starts after its own ``created_after_seq`` anyway.
    """
    async with db.reader() as session:
        head = await position(session)
        wanted = await session.scalar(
            select(Webhook.id)
            .where(Webhook.is_active.is_(True), Webhook.created_after_seq < head, accountable())
            .limit(1)
        )
        done = await session.scalar(
            select(WebhookDispatchState.dispatched_seq).where(WebhookDispatchState.id == STATE_ROW)
        )
    return wanted is not None and (done is None or head > done)


async def dispatch_once(db: Database, *, batch_size: int, now: datetime) -> DispatchRound:
    """Dispatch up to ``batch_size`` events after the cursor; commit.

    Raises whatever the database raises; the transaction is then rolled back and the next round
    starts from the same cursor.
    """
    if not await pending_events(db):
        return DispatchRound(deliveries=0, more=False)
    async with db.writer() as session:
        cursor = await _locked_cursor(session, is_sqlite=db.is_sqlite)
        head = await position(session)
        webhooks = list(
            await session.scalars(
                select(Webhook).where(
                    Webhook.is_active.is_(True), Webhook.created_after_seq < head, accountable()
                )
            )
        )
        start = cursor.dispatched_seq
        if webhooks:
            # Events no webhook can want (older than every webhook) are skipped without reading.
            start = max(start, min(webhook.created_after_seq for webhook in webhooks))
        events = []
        if webhooks and start < head:
            events = list(
                await session.scalars(
                    select(Event)
                    .where(
                        Event.seq > start,
                        Event.seq <= head,
                        Event.workspace_id.in_({webhook.workspace_id for webhook in webhooks}),
                    )
                    .order_by(Event.seq)
                    .limit(batch_size)
                )
            )
        full = len(events) == batch_size
        rows = []
        for event in events:
            body: str | None = None
            for webhook in webhooks:
                if (
                    event.seq > webhook.created_after_seq
                    and event.workspace_id == webhook.workspace_id
                    and (webhook.table_id is None or event.table_id == webhook.table_id)
                    and wants(webhook.event_types, event.type)
                ):
                    body = body or event_body(to_wire(event))
                    rows.append(
                        {
                            "id": new_id("dlv"),
                            "webhook_id": webhook.id,
                            "event_id": event.id,
                            "event_seq": event.seq,
                            "event_type": event.type,
                            "body": body,
                            "status": "pending",
                            "attempts": 0,
                            "next_attempt_at": now,
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
        if rows:
            await session.execute(insert(WebhookDelivery), rows)
        cursor.dispatched_seq = events[-1].seq if full else max(head, cursor.dispatched_seq)
        await session.commit()
    return DispatchRound(deliveries=len(rows), more=full)
