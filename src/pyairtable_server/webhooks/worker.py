"""The background loop that moves webhook deliveries along: dispatch, send, retry, forget.

One ``WebhookWorker`` per server process, started in the app's lifespan. Every poll interval (or
at once after ``wake()``) a round dispatches new events into deliveries and sends the due ones;
a round that found a full batch runs again without waiting. Everything it knows lives in the
database, so any number of processes may run one, and a restart loses nothing (see
``dispatch`` and ``sender``). A failed round is logged and retried: the worker never takes the
server down.

Cancellation (the server stopping) lands only between database steps or during an HTTP attempt:
each database step runs shielded. A transaction cut off halfway makes the async drivers throw
their connection away, and aiosqlite's close can then wait forever for its thread; an attempt cut
off is just an attempt whose lease runs out, sent again later.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

import anyio
import httpx2
from sqlalchemy import delete

from ..clock import utcnow
from ..db.engine import Database
from ..db.models import WebhookDelivery
from ..settings import Settings
from . import sender
from .dispatch import dispatch_once

logger = logging.getLogger("pyairtable_server.webhooks")
T = TypeVar("T")


async def _shielded(step: Callable[[], Awaitable[T]]) -> T:
    """Run one database step to its end even if the caller is cancelled meanwhile."""
    with anyio.CancelScope(shield=True):
        result = await step()
    # Returned outside the scope: mypy reads a cancel scope as able to swallow the return.
    return result  # noqa: RET504


class WebhookWorker:
    """Dispatches and sends webhook deliveries until cancelled; owns the HTTP client."""

    def __init__(
        self, db: Database, settings: Settings, *, client: httpx2.AsyncClient | None = None
    ) -> None:
        self.db = db
        self.settings = settings
        self.client = client if client is not None else sender.new_client(settings)
        self._wake = anyio.Event()
        self._last_prune = -math.inf

    def wake(self) -> None:
        """Start the next round now instead of at the next poll (e.g. after a commit)."""
        self._wake.set()

    async def run(self) -> None:
        """Run rounds until cancelled; then close the HTTP client."""
        try:
            while True:
                busy = False
                try:
                    busy = await self.run_once()
                    await _shielded(self._prune_now_and_then)
                except Exception:
                    logger.exception("webhook round failed; retrying next round")
                if not busy:
                    with anyio.move_on_after(self.settings.webhook_poll_interval_seconds):
                        await self._wake.wait()
                self._wake = anyio.Event()
        finally:
            with anyio.CancelScope(shield=True):
                await self.client.aclose()

    async def run_once(self) -> bool:
        """One round: dispatch new events, send what is due. True if it found work (so there
        may be more).

        Raises whatever the database raises (``run`` logs it and tries again).
        """
        dispatched = await _shielded(
            lambda: dispatch_once(
                self.db, batch_size=self.settings.webhook_batch_size, now=utcnow()
            )
        )
        sent = await self.send_due()
        # Claiming fewer than the limit does not mean nothing is due: another process may have
        # taken the rest a moment ago. Only a round that found nothing at all waits.
        return dispatched.more or dispatched.deliveries > 0 or sent > 0

    async def send_due(self) -> int:
        """Claim the due deliveries (at most as many as may be in flight), send them
        concurrently, record each outcome; return how many were claimed.

        Only as many as are sent at once are claimed, so that every lease covers one request.
        """
        claimed = await _shielded(
            lambda: sender.claim(
                self.db,
                limit=self.settings.webhook_max_concurrent_sends,
                lease=timedelta(seconds=self.settings.webhook_lease_seconds),
                now=utcnow(),
            )
        )
        if claimed:
            async with anyio.create_task_group() as group:
                for delivery in claimed:
                    group.start_soon(self._send, delivery)
        return len(claimed)

    async def _send(self, claimed: sender.Claimed) -> None:
        outcome = await sender.attempt(
            self.client,
            url=claimed.url,
            secret=claimed.secret,
            delivery_id=claimed.delivery_id,
            body=claimed.body,
            time_limit=self.settings.webhook_request_timeout_seconds,
            now=utcnow(),
        )
        try:
            await _shielded(lambda: sender.record(self.db, claimed, outcome, self.settings))
        except Exception:
            # The lease runs out and the delivery is sent again: at-least-once.
            logger.exception("recording webhook delivery %s failed", claimed.delivery_id)

    async def _prune_now_and_then(self) -> None:
        """``forget_finished`` once per maintenance interval."""
        clock = anyio.current_time()
        if clock - self._last_prune < self.settings.maintenance_interval_seconds:
            return
        self._last_prune = clock
        await self.forget_finished(now=utcnow())

    async def forget_finished(self, *, now: datetime) -> int:
        """Delete succeeded and failed deliveries last touched before the retention period;
        return how many. Pending ones stay, however old."""
        cutoff = now - timedelta(seconds=self.settings.webhook_delivery_retention_seconds)
        async with self.db.write_turn(), self.db.writer() as session:
            result = await session.execute(
                delete(WebhookDelivery).where(
                    WebhookDelivery.status.in_(("succeeded", "failed")),
                    WebhookDelivery.updated_at < cutoff,
                )
            )
            await session.commit()
        return int(getattr(result, "rowcount", 0) or 0)
