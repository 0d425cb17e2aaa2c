"""Send deliveries: claim the due ones under a lease, POST them, record each outcome.

Which deliveries to claim is shared out fairly among webhooks (``slots``); only deliveries of
active webhooks whose member may still manage them are claimed (``accountability``). Claiming is
one conditional ``UPDATE``: a delivery that is pending, due, and not leased (or whose lease ran
out) gets ``locked_until`` and a fresh ``lease_token``. Two processes never hold the same
delivery at once (PostgreSQL skips rows another claimer has locked; SQLite runs one writer at a
time), so an attempt is never sent twice concurrently. Recording an outcome requires the lease
token still to be ours.

A process killed mid-send leaves its lease to expire; the delivery is then claimed and sent
again. Delivery is therefore at-least-once: a receiver may see a delivery twice and de-duplicates
by ``webhook-id``, which stays the same across every attempt of one delivery. Attempts that never
got recorded (the process died) are not counted in ``attempts``.
"""

from __future__ import annotations

import logging
import secrets
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio
import httpx2
from sqlalchemy import bindparam, exists, func, or_, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from .. import __version__
from ..clock import rfc3339
from ..db.engine import Database
from ..db.models import Webhook, WebhookDelivery
from ..db.types import UTCDateTime
from ..settings import Settings
from .accountability import accountable
from .network import PinnedTransport, Resolver, system_resolver
from .policy import TEST_EVENT_TYPE, retry_delay, should_disable
from .signing import signature_headers
from .slots import Ready, SendSlots

logger = logging.getLogger("pyairtable_server.webhooks")

USER_AGENT = f"pyairtable-webhooks/{__version__}"
#: The one failure text for every attempt that got no answer (refused, timed out, name not
#: resolving, target not public, TLS failing): telling them apart would let a workspace admin map
#: which ports answer where the server stands.
NO_RESPONSE = "delivery failed: no response"
#: How much of an answer is read (and thrown away) so that its connection can serve the next one.
DRAIN_BYTES = 64 * 1024


@dataclass(frozen=True)
class Claimed:
    """A delivery this sender holds the lease on, with what it needs to send it."""

    delivery_id: str
    webhook_id: str
    workspace_id: str
    url: str
    secret: str
    body: str
    attempts: int
    is_test: bool
    lease_token: str


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: a 2xx answer is success, anything else (or no answer) a failure.

    The receiver's body is never kept: it is the receiver's, and handing it back to whoever set
    the URL would make the server a proxy that reads other hosts' answers.
    """

    status_code: int | None
    error: str | None
    duration_ms: int
    attempted_at: datetime

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def new_client(
    settings: Settings,
    *,
    resolver: Resolver = system_resolver,
    ssl_context: ssl.SSLContext | None = None,
) -> httpx2.AsyncClient:
    """The HTTP client deliveries go out on.

    It connects only to public addresses, checked after resolving and pinned for the connection
    (``network.PinnedTransport``), unless ``webhook_allow_private_targets`` is on. No redirects
    (a 3xx is a failure: the receiver must name its final URL, and a redirect could lead
    anywhere) and ``trust_env`` off: the targets are URLs that workspace admins typed, and the
    server's ambient proxy settings or ``.netrc`` credentials must not travel to them.
    ``resolver`` and ``ssl_context`` replace the system's, for tests.
    """
    return httpx2.AsyncClient(
        transport=PinnedTransport(
            allow_private=settings.webhook_allow_private_targets,
            resolver=resolver,
            ssl_context=ssl_context,
        ),
        timeout=httpx2.Timeout(settings.webhook_request_timeout_seconds),
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": USER_AGENT},
    )


async def attempt(
    client: httpx2.AsyncClient,
    *,
    url: str,
    secret: str,
    delivery_id: str,
    body: str,
    time_limit: float,
    now: datetime,
) -> Outcome:
    """POST one signed attempt; never raises for the receiver's failures, they are the outcome.

    Any attempt without an answer fails with ``NO_RESPONSE``; why is logged for the operator
    (at DEBUG, without the URL), never stored where the webhook's admins read it.
    """
    content = body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **signature_headers(secret, msg_id=delivery_id, timestamp=int(time.time()), body=content),
    }
    started = time.perf_counter()
    status_code: int | None = None
    try:
        # The client's timeout bounds each read; this bounds the whole attempt, so a receiver
        # that answers one byte at a time cannot hold the lease past its end.
        with anyio.fail_after(time_limit):
            async with client.stream("POST", url, content=content, headers=headers) as response:
                status_code = response.status_code
                await _drain(response)
    except Exception as exc:  # any failure to get an answer is this attempt's outcome
        logger.debug("webhook delivery %s: %s", delivery_id, type(exc).__name__)
    error: str | None = None
    if status_code is None:
        error = NO_RESPONSE
    elif not 200 <= status_code < 300:
        error = f"the receiver answered {status_code}"
    return Outcome(
        status_code=status_code,
        error=error,
        duration_ms=round((time.perf_counter() - started) * 1000),
        attempted_at=now,
    )


async def _drain(response: httpx2.Response) -> None:
    """Read and drop the start of the answer, so a short one leaves its connection reusable."""
    read = 0
    async for chunk in response.aiter_raw():
        read += len(chunk)
        if read >= DRAIN_BYTES:
            break


def _due(now: datetime) -> list[ColumnElement[bool]]:
    return [
        WebhookDelivery.status == "pending",
        WebhookDelivery.next_attempt_at <= now,
        or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < now),
    ]


async def _ready(session: AsyncSession, now: datetime) -> list[Ready]:
    """The active, accountable webhooks with at least one delivery due."""
    rows = await session.execute(
        select(Webhook.id, Webhook.workspace_id).where(
            Webhook.is_active.is_(True),
            accountable(),
            exists().where(WebhookDelivery.webhook_id == Webhook.id, *_due(now)),
        )
    )
    return [Ready(webhook_id, workspace_id) for webhook_id, workspace_id in rows]


async def _oldest_due(session: AsyncSession, shares: dict[str, int], now: datetime) -> list[str]:
    """The ids of each webhook's oldest due deliveries, as many as its share."""
    firsts = [
        select(WebhookDelivery.id)
        .where(WebhookDelivery.webhook_id == webhook_id, *_due(now))
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(count)
        .subquery()
        for webhook_id, count in shares.items()
    ]
    # One index range per webhook (webhook_id, status, next_attempt_at), however long the queue
    # of a slow one: a window over every due delivery would cost that much on each claim.
    query = union_all(*(select(first.c.id) for first in firsts))
    return list(await session.scalars(query))


async def claim(
    db: Database, *, slots: SendSlots, lease: timedelta, now: datetime
) -> list[Claimed]:
    """Lease due deliveries of active, accountable webhooks: each webhook's oldest due ones, as
    many as ``slots`` shares out to it; commit.

    The choice is read first; the lease is then taken by one conditional ``UPDATE`` that checks
    everything again, so a delivery another sender took meanwhile (or of a webhook disabled
    meanwhile) is left out. ``slots`` is not told: the caller counts what it starts.
    """
    if not slots.free:
        return []
    async with db.reader() as session:
        shares = slots.shares(await _ready(session, now))
        chosen = await _oldest_due(session, shares, now) if shares else []
    if not chosen:
        return []
    token = secrets.token_hex(16)
    lockable = (
        select(WebhookDelivery.id)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(
            WebhookDelivery.id.in_(chosen),
            *_due(now),
            Webhook.is_active.is_(True),
            accountable(),
        )
        # PostgreSQL: rows another claimer is taking right now are skipped, not waited for.
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    )
    async with db.writer() as session:
        claimed_ids = list(
            await session.scalars(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(lockable.scalar_subquery()), *_due(now))
                .values(locked_until=now + lease, lease_token=token)
                .returning(WebhookDelivery.id)
            )
        )
        if not claimed_ids:
            await session.commit()
            return []
        rows = (
            await session.execute(
                select(WebhookDelivery, Webhook.workspace_id, Webhook.url, Webhook.secret)
                .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                .where(WebhookDelivery.id.in_(claimed_ids))
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            )
        ).all()
        await session.commit()
    return [
        Claimed(
            delivery_id=delivery.id,
            webhook_id=delivery.webhook_id,
            workspace_id=workspace_id,
            url=url,
            secret=secret,
            body=delivery.body,
            attempts=delivery.attempts,
            is_test=delivery.event_type == TEST_EVENT_TYPE,
            lease_token=token,
        )
        for delivery, workspace_id, url, secret in rows
    ]


def outcome_values(
    outcome: Outcome, *, attempts: int, is_test: bool, settings: Settings
) -> dict[str, object]:
    """The delivery columns after an attempt: its result, and what happens next.

    A failed test delivery is not retried: it is a one-off check of the endpoint.
    """
    values: dict[str, object] = {
        "attempts": attempts,
        "last_attempt_at": outcome.attempted_at,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
        "last_duration_ms": outcome.duration_ms,
        "locked_until": None,
        "lease_token": None,
        "updated_at": outcome.attempted_at,
    }
    delay = None
    if not outcome.ok and not is_test:
        delay = retry_delay(
            attempts,
            settings.webhook_retry_schedule_seconds,
            jitter=settings.webhook_retry_jitter,
        )
    if outcome.ok:
        values.update(status="succeeded", next_attempt_at=None)
    elif delay is None:
        values.update(status="failed", next_attempt_at=None)
    else:
        values.update(
            status="pending", next_attempt_at=outcome.attempted_at + timedelta(seconds=delay)
        )
    return values


async def record(db: Database, claimed: Claimed, outcome: Outcome, settings: Settings) -> bool:
    """Store the outcome of an attempt and update the webhook's failure run; commit.

    Returns False, changing nothing, when the lease was lost meanwhile (another sender owns the
    delivery now). The webhook row is updated before the delivery row: the order every other
    writer (deleting a webhook deletes its deliveries) takes them in, so they cannot deadlock.
    """
    now = outcome.attempted_at
    async with db.writer() as session:
        if not claimed.is_test:
            await _track_run(session, claimed.webhook_id, ok=outcome.ok, now=now, settings=settings)
        values = outcome_values(
            outcome, attempts=claimed.attempts + 1, is_test=claimed.is_test, settings=settings
        )
        stored = (
            await session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == claimed.delivery_id,
                    WebhookDelivery.lease_token == claimed.lease_token,
                )
                .values(**values)
                .returning(WebhookDelivery.id)
            )
        ).one_or_none()
        if stored is None:
            await session.rollback()
            logger.warning(
                "webhook delivery %s: lease lost before its outcome was recorded",
                claimed.delivery_id,
            )
            return False
        await session.commit()
    return True


async def _track_run(
    session: AsyncSession, webhook_id: str, *, ok: bool, now: datetime, settings: Settings
) -> None:
    """End the webhook's failure run on success; extend it on failure, disabling the webhook
    when the run is long enough (``policy.should_disable``)."""
    if ok:
        # Conditional, so that a healthy webhook's successes do not all write its row.
        await session.execute(
            update(Webhook)
            .where(
                Webhook.id == webhook_id,
                or_(Webhook.failure_count > 0, Webhook.failing_since.is_not(None)),
            )
            .values(failure_count=0, failing_since=None)
        )
        return
    run = (
        await session.execute(
            update(Webhook)
            .where(Webhook.id == webhook_id)
            .values(
                failure_count=Webhook.failure_count + 1,
                failing_since=func.coalesce(
                    Webhook.failing_since, bindparam("now", now, type_=UTCDateTime())
                ),
            )
            .returning(Webhook.failure_count, Webhook.failing_since, Webhook.is_active)
        )
    ).one_or_none()
    if run is None:
        return  # deleted meanwhile; the delivery update below finds nothing either
    count, since, active = run
    if (
        active
        and since is not None
        and should_disable(
            count,
            since,
            now,
            min_failures=settings.webhook_disable_after_failures,
            min_duration=timedelta(seconds=settings.webhook_disable_after_seconds),
        )
    ):
        await session.execute(
            update(Webhook)
            .where(Webhook.id == webhook_id)
            .values(
                is_active=False,
                disabled_reason=(
                    f"Disabled after {count} failed attempts in a row since "
                    f"{rfc3339(since)}; re-enable it with is_active: true."
                ),
                updated_at=now,
            )
        )
        logger.warning("webhook %s disabled after %d failed attempts", webhook_id, count)
