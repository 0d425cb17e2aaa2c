"""The event log (contract §8): every change's event, in the same transaction as the change.

Positions come from the single ``event_log_state`` row. A writer takes it with
``UPDATE … RETURNING`` as the last step before commit, so the row lock (PostgreSQL) or the write
lock (SQLite) is held only briefly, and a transaction can only get a position after the one before
it committed: ``seq`` is gap-free *and* in commit order. A reader that has seen position N
therefore never finds a smaller position appearing later, which is what makes resuming from the
last ``seq`` lossless.

**Visibility.** A user reads a workspace's events from the event that made them a member
(``workspace.created`` for its owner, ``workspace.member_added``) on, never the history from
before they joined (erased values included): ``append`` stamps that event's ``seq`` on the
membership (``joined_seq``) in the same transaction. Besides, a user reads the events addressed
to them (``EventRecipient``): their own removal, the deletion of a workspace they were in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .clock import rfc3339
from .db.driver import Driver, Statement, driver_of
from .db.models import Event, EventLogState, EventRecipient, WorkspaceMember, table_of
from .ids import new_id

STATE_ROW = 1
MAX_EVENTS_PER_READ = 1000
DEFAULT_EVENTS_PER_READ = 100


@dataclass(frozen=True)
class EventDraft:
    """An event staged by a write, numbered when the write commits."""

    type: str
    aggregate_id: str
    workspace_id: str | None
    payload: dict[str, Any]
    base_id: str | None = None
    table_id: str | None = None
    version: int | None = None
    aggregate_type: str | None = None
    #: Users who may read the event besides the workspace's members (see ``EventRecipient``).
    recipients: tuple[str, ...] = field(default=())

    @property
    def channel(self) -> str:
        return self.type.partition(".")[0]


@dataclass(frozen=True)
class Logged:
    """A committed event: its wire object and the users outside its workspace who may read it."""

    wire: dict[str, Any]
    recipients: frozenset[str] = frozenset()

    @property
    def seq(self) -> int:
        seq: int = self.wire["seq"]
        return seq


# Built once and run on the driver (``db.driver``): every write runs them.
_STATE = table_of(EventLogState)
_ADVANCE = Statement(
    update(_STATE)
    .where(_STATE.c.id == STATE_ROW)
    .values(head_seq=_STATE.c.head_seq + bindparam("count"))
    .returning(_STATE.c.head_seq)
)
_EVENT_KEYS = (
    "seq",
    "id",
    "type",
    "channel",
    "workspace_id",
    "base_id",
    "table_id",
    "aggregate_type",
    "aggregate_id",
    "version",
    "occurred_at",
    "user_id",
    "payload",
)
_INSERT = Statement(insert(table_of(Event)), keys=_EVENT_KEYS)
_INSERT_RECIPIENTS = Statement(insert(table_of(EventRecipient)), keys=("seq", "user_id"))
_MEMBERS = table_of(WorkspaceMember)
_JOINED = Statement(
    update(_MEMBERS)
    .where(
        _MEMBERS.c.workspace_id == bindparam("workspace_id"),
        _MEMBERS.c.user_id == bindparam("member"),
    )
    .values(joined_seq=bindparam("seq"))
)


async def append(
    db: AsyncSession,
    drafts: Sequence[EventDraft],
    *,
    user_id: str | None,
    now: datetime,
    driver: Driver | None = None,
) -> list[Logged]:
    """Number and insert ``drafts`` in the current transaction (on ``driver``, which must be
    that of ``db``'s transaction; by default found); return them as logged events.

    Call it last before commit: from here to commit the transaction holds the log's position.
    """
    if not drafts:
        return []
    if db.new or db.dirty or db.deleted:
        # The statements below run on the connection, past the session's autoflush: rows the
        # session holds (a new membership whose ``joined_seq`` is set below) are written first.
        await db.flush()
    if driver is None:
        driver = await driver_of(db)
    head = await driver.scalar(_ADVANCE, {"count": len(drafts)})
    first = head - len(drafts) + 1
    rows = [
        {
            "seq": first + index,
            "id": new_id("evt"),
            "type": draft.type,
            "channel": draft.channel,
            "workspace_id": draft.workspace_id,
            "base_id": draft.base_id,
            "table_id": draft.table_id,
            "aggregate_type": draft.aggregate_type or draft.channel,
            "aggregate_id": draft.aggregate_id,
            "version": draft.version,
            "occurred_at": now,
            "user_id": user_id,
            "payload": draft.payload,
        }
        for index, draft in enumerate(drafts)
    ]
    await driver.run_many(_INSERT, rows)
    for row in rows:
        member = member_of(row)
        if member is not None:
            await driver.run(
                _JOINED,
                {"workspace_id": row["workspace_id"], "member": member, "seq": row["seq"]},
            )
    recipients = [
        {"seq": row["seq"], "user_id": user}
        for row, draft in zip(rows, drafts, strict=True)
        for user in dict.fromkeys(draft.recipients)
    ]
    await driver.run_many(_INSERT_RECIPIENTS, recipients)
    return [
        Logged(_wire(row), frozenset(draft.recipients))
        for row, draft in zip(rows, drafts, strict=True)
    ]


#: The events that make a user a member of their workspace.
JOINING = frozenset({"workspace.created", "workspace.member_added"})


def member_of(event: dict[str, Any]) -> str | None:
    """The user a joining event makes a member (the owner of a new workspace, the added
    member); None for any other event."""
    if event["type"] not in JOINING or not event.get("workspace_id"):
        return None
    payload = event.get("payload") or {}
    if event["type"] == "workspace.created":
        owner = (payload.get("workspace") or {}).get("owner_id")
        actor = event.get("user_id")
        return owner if isinstance(owner, str) else actor if isinstance(actor, str) else None
    user = (payload.get("member") or {}).get("user_id")
    return user if isinstance(user, str) else None


def _wire(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "occurred_at": rfc3339(row["occurred_at"])}


def to_wire(event: Event) -> dict[str, Any]:
    """The JSON object of contract §8 for a stored event."""
    return _wire({column.key: getattr(event, column.key) for column in Event.__table__.columns})


_HEAD = select(EventLogState.head_seq, EventLogState.pruned_through).where(
    EventLogState.id == STATE_ROW
)


async def position(db: AsyncSession) -> int:
    """The newest committed ``seq`` (0 before the first event)."""
    head, _ = (await db.execute(_HEAD)).one()
    return int(head)


@dataclass(frozen=True)
class EventPage:
    data: list[dict[str, Any]]
    next_since: int
    reset: bool


def visible_to(user_id: str) -> Any:
    """Events of the user's workspaces since they joined, and those addressed to them after
    they lost access."""
    return or_(
        exists().where(
            WorkspaceMember.user_id == user_id,
            WorkspaceMember.workspace_id == Event.workspace_id,
            WorkspaceMember.joined_seq <= Event.seq,
        ),
        Event.seq.in_(select(EventRecipient.seq).where(EventRecipient.user_id == user_id)),
    )


_FILTER_COLUMNS: dict[str, Any] = {
    "workspace_id": Event.workspace_id,
    "base_id": Event.base_id,
    "table_id": Event.table_id,
    "aggregate_id": Event.aggregate_id,
}


async def read(
    db: AsyncSession,
    user_id: str,
    *,
    since: int,
    limit: int = DEFAULT_EVENTS_PER_READ,
    channels: Sequence[str] = (),
    filters: Mapping[str, str] | None = None,
) -> EventPage:
    """The caller's events after ``since``, oldest first.

    ``reset`` is true when events after ``since`` were pruned by retention, or when ``since`` is
    ahead of the log (the client's position comes from another database): either way the client
    must refetch. ``next_since`` is the position to ask from next; when fewer than ``limit`` events
    came back it is the head read *before* the events, so invisible events are skipped over
    without ever skipping a visible one. ``filters`` match top-level fields exactly:
    ``workspace_id``, ``base_id``, ``table_id``, ``aggregate_id``.
    """
    head, pruned_through = (await db.execute(_HEAD)).one()
    if since < pruned_through or since > head:
        return EventPage(data=[], next_since=int(head), reset=True)
    query = (
        select(Event)
        .where(Event.seq > since, Event.seq <= head, visible_to(user_id))
        .order_by(Event.seq)
        .limit(limit)
    )
    if channels:
        query = query.where(Event.channel.in_(channels))
    for key, value in (filters or {}).items():
        query = query.where(_FILTER_COLUMNS[key] == value)
    events = list(await db.scalars(query))
    next_since = events[-1].seq if len(events) == limit else int(head)
    return EventPage(data=[to_wire(event) for event in events], next_since=next_since, reset=False)


async def read_after(db: AsyncSession, after: int, *, limit: int) -> list[Logged]:
    """Every event after ``after`` (whoever may see it), oldest first, with its recipients.

    This is the realtime hub's view of the log; visibility is applied per subscriber.
    """
    rows = list(
        await db.scalars(select(Event).where(Event.seq > after).order_by(Event.seq).limit(limit))
    )
    if not rows:
        return []
    recipients: dict[int, set[str]] = {}
    addressed = await db.execute(
        select(EventRecipient.seq, EventRecipient.user_id).where(
            EventRecipient.seq > after, EventRecipient.seq <= rows[-1].seq
        )
    )
    for seq, user in addressed:
        recipients.setdefault(seq, set()).add(user)
    return [Logged(to_wire(row), frozenset(recipients.get(row.seq, ()))) for row in rows]


async def pruned_through(db: AsyncSession) -> int:
    """The newest ``seq`` retention has deleted (0 when nothing was)."""
    _, pruned = (await db.execute(_HEAD)).one()
    return int(pruned)


async def prune(db: AsyncSession, *, now: datetime, max_age: timedelta, max_events: int) -> int:
    """Delete events older than ``max_age`` or beyond the newest ``max_events``; commit.

    Returns the new ``pruned_through``. Readers asking from before it get ``reset``.
    """
    head, pruned_through = (await db.execute(_HEAD)).one()
    oldest_kept = await db.scalar(
        select(func.min(Event.seq)).where(Event.occurred_at >= now - max_age)
    )
    by_age = (oldest_kept - 1) if oldest_kept is not None else head
    cutoff = max(int(pruned_through), int(by_age), int(head) - max_events)
    if cutoff > pruned_through:
        await db.execute(delete(Event).where(Event.seq <= cutoff))
        await db.execute(
            update(EventLogState).where(EventLogState.id == STATE_ROW).values(pruned_through=cutoff)
        )
    await db.commit()
    return cutoff
