"""The realtime hub: one ordered feed of committed events per server process, fanned out.

**The feed.** Events reach the hub two ways: right after a local commit (``committed``), and
from the event log, which the hub reads whenever it learns of a ``seq`` it has not dispatched
yet (a ``hint`` from another instance through the broker) and on a periodic poll. The log is the
truth and the rest are fast paths: a lost or reordered hint costs at most one poll interval,
never an event, and a forged one costs a read of the log and nothing else (only this process's
own commits are taken as events without reading them back). Because ``seq`` is gap-free and in
commit order (see ``events``), the hub dispatches strictly in ``seq`` order, and its ``position``
is "every event up to here has been dispatched".

**The fan-out.** Each subscriber (one socket or SSE stream) has a bounded outbox. Dispatch never
awaits: a full outbox means the consumer is too slow, so it is closed with 1013 and resumes from
its last ``seq`` when it reconnects. A stuck consumer therefore neither grows memory without bound
nor delays anybody else. An event is matched and encoded once per audience; a transport with a
writer task (SSE) is woken by its outbox, one that writes from the caller's call (a WebSocket on
uvicorn) is flushed by the hub's ``Flusher``: a few at once, the rest on the loop's next passes.

**Visibility** follows the event log's rule (``events.visible_to``): members of the event's
workspace, plus its recipients (a member who was just removed sees their removal). The hub keeps
each subscriber's workspaces current by applying membership events in ``seq`` order, so a removed
member stops receiving events from exactly the event that removed them, and a new member starts
from exactly the event that added them (a subscriber whose membership is newer than the hub's
position joins the workspace's fan-out when the hub dispatches that event, not before). A
connection reads its memberships when it authenticates, a moment before it attaches; the
membership changes the hub dispatched in between are applied when it attaches (the hub remembers
the latest ``MEMBERSHIP_MEMORY`` of them), so a workspace created or left meanwhile is neither
missing from its fan-out nor kept in it.

**Ended sessions.** A session ended anywhere (logout, password change, refresh-token reuse,
deactivation) leaves a ``session.revoked`` notice in the log (``security.revocation``). The hub
does not take the notice's word for anything: it asks the database which of that user's
connected sessions have ended and closes their subscribers (4401; SSE streams get an ``error``
frame). A connection that authenticated just before the session ended, and attaches just after
the hub read the notice, is caught by the hub's memory of recent notices (``attach``).

**Resuming.** A subscription with ``since`` starts by buffering live events, replays the log
after ``since`` (with the same visibility as ``GET /events``), then releases the buffer: each
subscription keeps the last ``seq`` it delivered and skips anything at or below it, so the seam
between replay and live has neither a gap nor a duplicate.
"""

from __future__ import annotations

import json
import logging
import weakref
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

import anyio
from anyio.abc import TaskStatus
from sqlalchemy.ext.asyncio import AsyncSession

from .. import events, json_codec
from ..clock import utcnow
from ..db.engine import Database
from ..security import revocation
from .flushing import Flusher
from .interest import Interest
from .outbox import Outbox

logger = logging.getLogger("pyairtable_server.realtime")

#: Events read from the log per query when the hub fills a gap or a subscription replays.
READ_BATCH = 1000
#: Close codes of contract §8 (4401/4403) and RFC 6455 (1013 "try again later").
CLOSE_TOKEN_EXPIRED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_OVERLOADED = 1013
CLOSE_NORMAL = 1000


@dataclass(frozen=True, slots=True)
class Published:
    """A committed event as the hub fans it out, serialised once for every frame that carries it."""

    seq: int
    event: dict[str, Any]
    recipients: frozenset[str]
    json: str

    @classmethod
    def of(cls, logged: events.Logged) -> Published:
        wire = logged.wire
        return cls(
            seq=logged.seq,
            event=wire,
            recipients=logged.recipients,
            json=json_codec.dumps(wire),
        )


class Audience:
    """What subscriptions with the same id and the same interest have in common: for each event,
    whether it matches and the frame that carries it are the same for all of them.

    The hub interns audiences (``Hub.subscribe``), so a dispatch decides and encodes once per
    audience, not once per subscriber, and compares audiences by identity.
    """

    __slots__ = ("__weakref__", "interest", "subscription_id")

    def __init__(self, subscription_id: str, interest: Interest) -> None:
        self.subscription_id = subscription_id
        self.interest = interest


class EventOut:
    """An event on its way to one audience's subscriptions (one object shared by all of them).

    Its WebSocket message (``text``), WebSocket frame (``frame``) and SSE frame (``sse``) are
    encoded on first use and then shared by every socket of the audience.
    """

    __slots__ = ("_frame", "_sse", "_text", "published", "subscription_id")

    def __init__(self, subscription_id: str, published: Published) -> None:
        self.subscription_id = subscription_id
        self.published = published
        self._text: str | None = None
        self._frame: bytes | None = None
        self._sse: bytes | None = None

    @property
    def text(self) -> str:
        """The ``event`` message of contract §8; the event's JSON is spliced in, not re-encoded."""
        if self._text is None:
            self._text = (
                '{"type":"event","subscription_id":'
                + json.dumps(self.subscription_id)
                + ',"event":'
                + self.published.json
                + "}"
            )
        return self._text

    def frame(self, encode: Callable[[str], bytes]) -> bytes:
        """The WebSocket frame carrying ``text``, made by ``encode`` the first time."""
        if self._frame is None:
            self._frame = encode(self.text)
        return self._frame

    def sse(self, encode: Callable[[Published], bytes]) -> bytes:
        """The SSE frame, made by ``encode`` the first time it is asked for."""
        if self._sse is None:
            self._sse = encode(self.published)
        return self._sse


_NO_MEMBERSHIPS: Mapping[str, int] = MappingProxyType({})
#: ``Subscriber.offer``'s mark for an audience not yet decided for the event at hand.
_UNDECIDED: Any = object()
#: How many subscribers a dispatch writes to from its own call (the rest are written to on the
#: event loop's next passes, ``FLUSHED_PER_PASS`` at a time): a dispatch runs in the task that
#: committed, so this bounds what a write's answer waits for, however many subscribers there are.
FLUSHED_AT_ONCE = 64
FLUSHED_PER_PASS = 256

#: One event's outgoing form per audience (None: it does not match), decided once per dispatch.
Fanout = dict["Audience", "EventOut | None"]


#: A control message for the client (``subscription_confirmed``, ``subscription_reset``, …).
Notice = dict[str, Any]
Outgoing = EventOut | Notice


@dataclass(eq=False, slots=True)
class Subscription:
    """One subscription of a subscriber. ``after`` is the last ``seq`` it delivered or skipped."""

    id: str
    interest: Interest
    after: int
    #: Shared with every subscription of the same id and interest (``Hub.subscribe``).
    audience: Audience
    #: The hub's position when the subscription was made: live events after it are its own.
    live_from: int = 0
    #: The workspace its filters confine it to, if any (checked again on membership changes).
    scope_workspace: str | None = None
    #: Live events held back while the subscription replays the log; ``None`` once live.
    backlog: list[Published] | None = None


class Subscriber:
    """One connection's share of the hub: who it is, what it may see, what it asked for.

    The transport drains ``outbox``: a writer task waits on it, or, for a transport that writes
    from the caller's call, ``flush`` is called on the hub's ``Flusher`` passes after something
    was queued. When the subscriber is closed (too slow, token expired, forbidden), the outbox
    ends after what is already in it and ``close_code`` says why.
    """

    __slots__ = (
        "_closed_event",
        "_limit",
        "authenticated_at",
        "close_code",
        "close_error",
        "close_reason",
        "closed",
        "expires_at",
        "flush",
        "flush_due",
        "flusher",
        "interrupt",
        "joined",
        "on_close",
        "outbox",
        "session_id",
        "subscriptions",
        "user_id",
        "workspaces",
    )

    def __init__(
        self,
        user_id: str,
        workspaces: set[str],
        *,
        outbox_size: int,
        expires_at: datetime,
        session_id: str,
        authenticated_at: int,
        joined: Mapping[str, int] | None = None,
    ) -> None:
        self.user_id = user_id
        self.workspaces = workspaces
        #: The ``seq`` each membership began at (events before it are not this user's), until
        #: the hub has attached it.
        self.joined: Mapping[str, int] = joined or _NO_MEMBERSHIPS
        self.expires_at = expires_at
        #: The auth session its token belongs to, and the log's head read before the token's
        #: session was checked and its memberships read (a notice or a membership change after
        #: it may concern this connection).
        self.session_id = session_id
        self.authenticated_at = authenticated_at
        self.subscriptions: dict[str, Subscription] = {}
        self._limit = outbox_size
        self.outbox: Outbox[Outgoing] = Outbox(outbox_size)
        #: True once closed; ``wait_closed`` makes an event only for whoever waits.
        self.closed = False
        self._closed_event: anyio.Event | None = None
        self.close_code = CLOSE_NORMAL
        self.close_reason = ""
        #: The ``{type, message}`` a transport that has error frames (SSE) sends last, if any.
        self.close_error: dict[str, str] | None = None
        #: Set by the hub: a closed subscriber is forgotten at once, whoever closed it.
        self.on_close: Callable[[], None] | None = None
        #: Set by a transport that waits on something besides the outbox (a WebSocket waits for
        #: client messages): called once when the subscriber closes, to stop that wait.
        self.interrupt: Callable[[], None] | None = None
        #: Set by a transport that writes from the caller's call instead of a writer task: writes
        #: what the outbox holds (or arranges for it to be written once the socket drains).
        self.flush: Callable[[], None] | None = None
        #: The hub's (set on attach), which calls ``flush`` soon after something was queued;
        #: ``flush_due`` is its mark that this subscriber waits for a pass.
        self.flusher: Flusher | None = None
        self.flush_due = False

    def close(self, code: int, reason: str, *, error: dict[str, str] | None = None) -> None:
        """End the outbox (after what it holds); the first reason given is the one kept."""
        if self.closed:
            return
        self.close_code = code
        self.close_reason = reason
        self.close_error = error
        self.closed = True
        if self._closed_event is not None:
            self._closed_event.set()
        self.outbox.close()
        if self.on_close is not None:
            self.on_close()
        if self.interrupt is not None:
            self.interrupt()

    async def wait_closed(self) -> None:
        """Wait until the subscriber is closed."""
        if self.closed:
            return
        if self._closed_event is None:
            self._closed_event = anyio.Event()
        await self._closed_event.wait()

    def release(self) -> None:
        """End the outbox and drop what it holds; the transport calls it when it is done."""
        self.outbox.release()

    def push(self, item: Outgoing) -> bool:
        """Queue ``item`` without waiting; a full outbox closes the subscriber (1013)."""
        if self.closed:
            return False
        if not self.outbox.put_nowait(item):
            self.close(CLOSE_OVERLOADED, "too slow to keep up: reconnect and resume from your seq")
            return False
        self._queued()
        return True

    async def send(self, item: Outgoing) -> bool:
        """Queue ``item``, waiting for room (used for replays, which may be long)."""
        if not await self.outbox.put(item):
            return False
        self._queued()
        return True

    def _queued(self) -> None:
        """Have a transport without a writer task write what was just queued, soon."""
        if self.flush is None:
            return  # a writer task waits on the outbox
        if self.flusher is not None:
            self.flusher.due(self)
        else:  # not attached (yet): nothing else would call it
            self.flush()

    def offer(self, published: Published, fanout: Fanout) -> None:
        """Hand a visible event to every subscription it matches (called by the hub).

        ``fanout`` holds, per audience, the event's outgoing form, so that every subscriber of
        an audience gets the same object, encoded once.
        """
        # Nothing below changes ``subscriptions`` (closing only ends the outbox).
        for sub in self.subscriptions.values():
            if published.seq <= sub.after:
                continue
            audience = sub.audience
            out = fanout.get(audience, _UNDECIDED)
            if out is _UNDECIDED:
                matches = sub.interest.matches(published.event)
                out = fanout[audience] = EventOut(sub.id, published) if matches else None
            if out is None:
                continue
            if sub.backlog is not None:
                if len(sub.backlog) >= self._limit:
                    self.close(CLOSE_OVERLOADED, "too many events while resuming: resume again")
                    return
                sub.backlog.append(published)
            elif self.push(out):
                sub.after = published.seq
            else:
                return


def confirmed(subscription_id: str, position: int, *, recovered: bool) -> Notice:
    return {
        "type": "subscription_confirmed",
        "subscription_id": subscription_id,
        "position": position,
        "recovered": recovered,
    }


def reset(subscription_id: str, position: int) -> Notice:
    return {"type": "subscription_reset", "subscription_id": subscription_id, "position": position}


def subscription_error(subscription_id: str, error_type: str, message: str) -> Notice:
    return {
        "type": "subscription_error",
        "subscription_id": subscription_id,
        "error": {"type": error_type, "message": message},
    }


#: How long the hub remembers that a user's sessions changed, for connections that were
#: authenticating meanwhile (far longer than checking a token and attaching can take).
REVOCATION_MEMORY_SECONDS = 600.0
#: How many membership changes the hub remembers for connections that were authenticating
#: meanwhile (``attach``); one that authenticated before the oldest is asked to reconnect.
MEMBERSHIP_MEMORY = 10_000
_SESSION_ENDED = {"type": "AUTH_ERROR", "message": "The session has ended; sign in again."}


@dataclass
class HubStats:
    """Counters for health and benchmarks."""

    dispatched: int = 0
    filled_from_log: int = 0
    overloaded: int = 0
    subscribers: int = 0


class Hub:
    """The process's realtime feed and its subscribers. Run ``run`` in a task group first."""

    def __init__(
        self,
        db: Database,
        *,
        poll_interval: float,
        publish: Callable[[int], None] | None = None,
    ) -> None:
        self._db = db
        self._poll_interval = poll_interval
        self._publish = publish
        self.position = 0
        self._known_head = 0
        #: How many heads were announced (``_learn``): a read that found nothing only forgets
        #: the announced head if no other came meanwhile.
        self._learned = 0
        self._pending: dict[int, Published] = {}
        self._by_workspace: defaultdict[str, set[Subscriber]] = defaultdict(set)
        self._by_user: defaultdict[str, set[Subscriber]] = defaultdict(set)
        self._wake = anyio.Event()
        self._poll_now = False
        self.stats = HubStats()
        self.running = False
        #: Why the broker between instances is unavailable (None: connected, or no broker).
        self.broker_error: str | None = None
        #: Called (without arguments, must not block) after every local commit with events.
        self.on_commit: list[Callable[[], None]] = []
        #: Users whose connected sessions must be checked, and when (seq, monotonic time) each
        #: user's latest revocation notice was dispatched.
        self._to_check: set[str] = set()
        self._revoked: dict[str, tuple[int, float]] = {}
        #: Audiences by (subscription id, interest), forgotten with their last subscription.
        self._audiences: weakref.WeakValueDictionary[tuple[str, Interest], Audience]
        self._audiences = weakref.WeakValueDictionary()
        #: The latest membership changes dispatched, ``(seq, user or None: every member,
        #: workspace, joined)``, and the newest ``seq`` forgotten from them.
        self._memberships: deque[tuple[int, str | None, str, bool]] = deque()
        self._memberships_forgotten = 0
        #: Writes to the subscribers whose transports have no writer task (``Subscriber.flush``).
        self.flusher = Flusher(at_once=FLUSHED_AT_ONCE, per_pass=FLUSHED_PER_PASS)

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncSession]:
        """A read session shielded from cancellation: a query cancelled half-way leaves its
        asyncpg connection unusable (and the pool's disposal then fails); every read is short."""
        with anyio.CancelScope(shield=True):
            async with self._db.reader() as session:
                yield session

    # The feed ----------------------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Start at the log's head, then keep the feed current until cancelled.

        A failed round (database briefly away) is logged and retried at the next poll.
        """
        async with self._reading() as session:
            self.position = self._known_head = await events.position(session)
        task_status.started()
        self.running = True
        try:
            await self._follow()
        finally:
            self.running = False

    async def _follow(self) -> None:
        while True:
            with anyio.move_on_after(self._poll_interval) as waited:
                await self._wake.wait()
            self._wake = anyio.Event()
            try:
                if waited.cancelled_caught or self._poll_now:
                    self._poll_now = False
                    async with self._reading() as session:
                        self._learn(await events.position(session))
                await self._fill()
                if self._to_check:
                    await self._end_revoked_sessions()
            except Exception:
                logger.exception("realtime feed round failed; retrying at the next poll")

    def committed(self, logged: Sequence[events.Logged]) -> None:
        """Take the events a local transaction just committed (called right after commit)."""
        if not logged:
            return
        published = [Published.of(item) for item in logged]
        if self._publish is not None:
            self._publish(published[-1].seq)
        self.received(published)
        for listener in self.on_commit:
            listener()

    def received(self, published: Sequence[Published]) -> None:
        """Take events this process committed and dispatch, at once, those next in ``seq``.

        Dispatching here, right after the commit, saves the events a trip through the event
        loop's queue behind unrelated work (on a busy loop, most of their latency); it costs
        the write one outbox append per subscriber it reaches (the writers send on their own).
        Events after a gap (another request's commit that has not been taken yet) wait for it;
        the feed task reads the log for any that never come.
        """
        for item in published:
            if item.seq > self.position:
                self._pending[item.seq] = item
                self._learn(item.seq)
        if self.running:
            self._drain()
            self.flusher.flush_now()
        if self._known_head > self.position:
            self._wake.set()

    def hint(self, head: int) -> None:
        """Learn that the log's head is (said to be) ``head``: read the log up to it soon.

        Only a hint: what is dispatched is what the log holds, whoever sent it.
        """
        self._learn(head)
        if self._known_head > self.position:
            self._wake.set()

    def poll_soon(self) -> None:
        """Read the log's head at once (e.g. after the broker reconnected)."""
        self._poll_now = True
        self._wake.set()

    def _learn(self, seq: int) -> None:
        self._known_head = max(self._known_head, seq)
        self._learned += 1

    def _drain(self) -> None:
        while (item := self._pending.pop(self.position + 1, None)) is not None:
            self._dispatch(item)

    async def _fill(self) -> None:
        """Dispatch, from the log, everything up to the newest ``seq`` the hub knows of."""
        self._drain()
        while self._known_head > self.position:
            learned = self._learned
            async with self._reading() as session:
                rows = await events.read_after(session, self.position, limit=READ_BATCH)
                pruned = await events.pruned_through(session) if not rows else 0
            if not rows:
                if pruned > self.position:
                    self._lost(pruned)
                    continue
                if self._learned != learned:
                    # A head was announced while we read (a commit of another process): read
                    # again, or forgetting the far head of a forged hint would forget it too.
                    continue
                # Nothing after our position: whatever announced a newer seq was not this log.
                self._known_head = self.position
                break
            self.stats.filled_from_log += 1
            for row in rows:
                if row.seq <= self.position:
                    continue
                if row.seq > self.position + 1:
                    self._lost(row.seq - 1)
                self._dispatch(Published.of(row))
            for seq in [seq for seq in self._pending if seq <= self.position]:
                del self._pending[seq]
            self._drain()

    def _lost(self, through: int) -> None:
        """Retention deleted events the hub never dispatched: every subscription must refetch."""
        logger.warning("realtime feed fell behind retention; resetting every subscription")
        for subscriber in {s for group in self._by_user.values() for s in group}:
            for sub in tuple(subscriber.subscriptions.values()):
                sub.after = max(sub.after, through)
                subscriber.push(reset(sub.id, through))
        self.position = through

    def _dispatch(self, item: Published) -> None:
        self.position = item.seq
        self.stats.dispatched += 1
        event = item.event
        kind: str = event["type"]
        workspace_id: str | None = event.get("workspace_id")
        if kind == revocation.REVOKED:
            self._sessions_changed(event["aggregate_id"], item.seq)
            return
        if kind in events.JOINING and workspace_id:
            member = events.member_of(event)
            self._grant(member, workspace_id)
            if member is not None:
                self._remember_membership(item.seq, member, workspace_id, joined=True)
        targets: set[Subscriber] | tuple[Subscriber, ...]
        targets = tuple(self._by_workspace.get(workspace_id, ())) if workspace_id else ()
        if item.recipients:
            targets = set(targets)
            for user in item.recipients:
                targets |= self._by_user.get(user, set())
        fanout: Fanout = {}
        for subscriber in targets:
            subscriber.offer(item, fanout)
        if kind == "workspace.member_removed" and workspace_id:
            removed = _removed(event)
            self._revoke(self._by_user.get(removed or "", set()), workspace_id)
            if removed is not None:
                self._remember_membership(item.seq, removed, workspace_id, joined=False)
        elif kind == "workspace.deleted" and workspace_id:
            self._revoke(self._by_workspace.get(workspace_id, set()), workspace_id)
            self._remember_membership(item.seq, None, workspace_id, joined=False)

    def _grant(self, user_id: str | None, workspace_id: str) -> None:
        for subscriber in self._by_user.get(user_id or "", ()):
            subscriber.workspaces.add(workspace_id)
            self._by_workspace[workspace_id].add(subscriber)

    def _revoke(self, subscribers: set[Subscriber], workspace_id: str) -> None:
        for subscriber in tuple(subscribers):
            subscriber.workspaces.discard(workspace_id)
            self._forget(subscriber, workspace_id)
            for sub in tuple(subscriber.subscriptions.values()):
                if sub.scope_workspace == workspace_id:
                    del subscriber.subscriptions[sub.id]
                    subscriber.push(
                        subscription_error(
                            sub.id, "PERMISSION_DENIED", "You are no longer a member here."
                        )
                    )

    def _remember_membership(
        self, seq: int, user_id: str | None, workspace_id: str, *, joined: bool
    ) -> None:
        if len(self._memberships) >= MEMBERSHIP_MEMORY:
            self._memberships_forgotten = self._memberships.popleft()[0]
        self._memberships.append((seq, user_id, workspace_id, joined))

    def _catch_up_memberships(self, subscriber: Subscriber) -> bool:
        """Apply to ``subscriber`` the membership changes dispatched after its memberships were
        read (``authenticated_at``): it was not attached when they were, so neither ``_grant``
        nor ``_revoke`` reached it. False when some of them are no longer remembered."""
        read = subscriber.authenticated_at
        if read < self._memberships_forgotten:
            return False
        since_read: list[tuple[int, str | None, str, bool]] = []
        for change in reversed(self._memberships):
            if change[0] <= read:
                break
            since_read.append(change)
        for _, user_id, workspace_id, joined in reversed(since_read):
            if user_id is None or user_id == subscriber.user_id:
                if joined:
                    subscriber.workspaces.add(workspace_id)
                else:
                    subscriber.workspaces.discard(workspace_id)
        return True

    def _forget(self, subscriber: Subscriber, workspace_id: str) -> None:
        group = self._by_workspace.get(workspace_id)
        if group is not None:
            group.discard(subscriber)
            if not group:
                del self._by_workspace[workspace_id]

    # Ended sessions ----------------------------------------------------------------------------

    def _sessions_changed(self, user_id: str, seq: int) -> None:
        now = anyio.current_time()
        if len(self._revoked) > 1000:  # bounded by the notices of the last few minutes
            cutoff = now - REVOCATION_MEMORY_SECONDS
            self._revoked = {u: (q, t) for u, (q, t) in self._revoked.items() if t >= cutoff}
        self._revoked[user_id] = (seq, now)
        if user_id in self._by_user:
            self._to_check.add(user_id)
            self._wake.set()

    def watch_session(self, subscriber: Subscriber) -> None:
        """Check the subscriber's session soon if it may have ended while it authenticated.

        Called on attach and after a socket renewed its token (``authenticated_at`` new).
        """
        seq, _ = self._revoked.get(subscriber.user_id, (0, 0.0))
        if seq > subscriber.authenticated_at:
            self._to_check.add(subscriber.user_id)
            self._wake.set()

    async def _end_revoked_sessions(self) -> None:
        """Close the subscribers of every session that ended among the users to check."""
        users, self._to_check = self._to_check, set()
        by_session: defaultdict[str, list[Subscriber]] = defaultdict(list)
        for user_id in users:
            for subscriber in self._by_user.get(user_id, ()):
                by_session[subscriber.session_id].append(subscriber)
        if not by_session:
            return
        try:
            async with self._reading() as session:
                ended = await revocation.ended(session, by_session.keys(), now=utcnow())
        except BaseException:
            self._to_check |= users  # checked again next round
            raise
        for session_id in ended:
            for subscriber in by_session[session_id]:
                # It may have renewed onto another session meanwhile: that one is checked.
                if subscriber.session_id == session_id:
                    subscriber.close(
                        CLOSE_TOKEN_EXPIRED, "the session has ended", error=_SESSION_ENDED
                    )

    # Subscribers -------------------------------------------------------------------------------

    def attach(self, subscriber: Subscriber) -> None:
        """Start delivering to ``subscriber``; it is detached when it closes.

        Its workspaces are those read when it authenticated (``authenticated_at``), brought up to
        the hub's position with the membership changes dispatched since. One that authenticated
        before the oldest change the hub remembers is closed (1013: reconnect) instead.
        """
        if not self._catch_up_memberships(subscriber):
            subscriber.close(CLOSE_OVERLOADED, "authenticated too long ago: reconnect")
            return
        subscriber.on_close = lambda: self.detach(subscriber)
        subscriber.flusher = self.flusher
        self._by_user[subscriber.user_id].add(subscriber)
        for workspace_id in subscriber.workspaces:
            # A membership newer than what this hub dispatched starts with its joining event,
            # whose dispatch adds the subscriber (``_grant``): nothing from before it arrives.
            if subscriber.joined.get(workspace_id, 0) <= self.position:
                self._by_workspace[workspace_id].add(subscriber)
        subscriber.joined = _NO_MEMBERSHIPS  # only needed until here
        self.stats.subscribers += 1
        self.watch_session(subscriber)

    def detach(self, subscriber: Subscriber) -> None:
        """Forget the subscriber (idempotent) and end its outbox."""
        users = self._by_user.get(subscriber.user_id)
        if users is None or subscriber not in users:
            return
        users.discard(subscriber)
        if not users:
            del self._by_user[subscriber.user_id]
        for workspace_id in tuple(subscriber.workspaces):
            self._forget(subscriber, workspace_id)
        if subscriber.close_code == CLOSE_OVERLOADED:
            self.stats.overloaded += 1
        subscriber.close(subscriber.close_code, subscriber.close_reason)
        self.stats.subscribers -= 1

    @property
    def subscriber_count(self) -> int:
        return self.stats.subscribers

    def subscribe(
        self,
        subscriber: Subscriber,
        subscription_id: str,
        interest: Interest,
        *,
        since: int | None,
        scope_workspace: str | None,
    ) -> Subscription:
        """Register a subscription (replacing one with the same id) and confirm it.

        Without ``since`` it is live at once; with it, it buffers live events until
        ``catch_up`` has replayed the log. Never awaits, so no event slips in between.
        """
        audience = self._audience(subscription_id, interest)
        sub = Subscription(
            subscription_id,
            audience.interest,  # one for the audience: subscriptions are many, interests few
            after=self.position if since is None else since,
            audience=audience,
            live_from=self.position,
            scope_workspace=scope_workspace,
            backlog=None if since is None else [],
        )
        subscriber.subscriptions[subscription_id] = sub
        if since is None:
            subscriber.push(confirmed(subscription_id, self.position, recovered=False))
        return sub

    async def catch_up(self, subscriber: Subscriber, sub: Subscription) -> None:
        """Replay the log after ``sub.after``, then release the live events held meanwhile.

        When the events after ``since`` are gone (retention) or ``since`` is ahead of the log,
        the client is told to refetch (``subscription_reset``) and the subscription goes live.
        """
        since = sub.after
        position = sub.live_from

        def current() -> bool:
            return subscriber.subscriptions.get(sub.id) is sub and not subscriber.closed

        async with self._reading() as session:
            head = await events.position(session)
            pruned = await events.pruned_through(session)
        if since < pruned or since > head:
            if current():
                sub.after = position
                subscriber.push(confirmed(sub.id, position, recovered=False))
                subscriber.push(reset(sub.id, position))
                self._go_live(subscriber, sub)
            return
        if not subscriber.push(confirmed(sub.id, position, recovered=True)):
            return
        cursor = since
        while current():
            async with self._reading() as session:
                page = await events.read(
                    session,
                    subscriber.user_id,
                    since=cursor,
                    limit=READ_BATCH,
                    channels=sorted(sub.interest.channels),
                    filters=dict(sub.interest.filters),
                )
            if page.reset:
                # Retention overtook a very long replay: the rest is gone.
                sub.after = max(sub.after, sub.live_from)
                subscriber.push(reset(sub.id, sub.after))
                break
            for wire in page.data:
                seq: int = wire["seq"]
                if seq <= sub.after or not sub.interest.matches(wire):
                    continue
                item = Published.of(events.Logged(wire))
                if not current() or not await subscriber.send(EventOut(sub.id, item)):
                    return
                sub.after = seq
            if len(page.data) < READ_BATCH:
                break
            cursor = page.next_since
        if current():
            self._go_live(subscriber, sub)

    def _audience(self, subscription_id: str, interest: Interest) -> Audience:
        """The one audience of every live subscription with this id and interest."""
        key = (subscription_id, interest)
        audience = self._audiences.get(key)
        if audience is None:
            audience = self._audiences[key] = Audience(subscription_id, interest)
        return audience

    @staticmethod
    def _go_live(subscriber: Subscriber, sub: Subscription) -> None:
        """Release the held-back live events (no await: nothing can slip in between)."""
        backlog, sub.backlog = sub.backlog or [], None
        for item in backlog:
            if item.seq > sub.after:
                if not subscriber.push(EventOut(sub.id, item)):
                    return
                sub.after = item.seq


def _removed(event: dict[str, Any]) -> str | None:
    """The user a ``workspace.member_removed`` event is about."""
    user = ((event.get("payload") or {}).get("member") or {}).get("user_id")
    return user if isinstance(user, str) else None


__all__ = [
    "CLOSE_FORBIDDEN",
    "CLOSE_NORMAL",
    "CLOSE_OVERLOADED",
    "CLOSE_TOKEN_EXPIRED",
    "FLUSHED_AT_ONCE",
    "FLUSHED_PER_PASS",
    "Audience",
    "EventOut",
    "Fanout",
    "Hub",
    "HubStats",
    "Notice",
    "Outgoing",
    "Published",
    "Subscriber",
    "Subscription",
]
