"""The background loop that moves webhook deliveries along: dispatch, send, retry, forget.

One ``WebhookWorker`` per server process, started in the app's lifespan. Every poll interval (or
at once after ``wake()``) a round disables webhooks whose member lost access, dispatches new
events into deliveries and starts sending due ones in the free send slots; a round that found
work runs again without waiting. Sends run beside the rounds: each one that ends frees its slot
and wakes the loop, so a slow receiver holds only its own slots and nobody waits for it.
Everything it knows lives in the database, so any number of processes may run one, and a restart
loses nothing (see ``dispatch`` and ``sender``). A failed round is logged and retried: the worker
never takes the server down.

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
from anyio.abc import TaskGroup
from sqlalchemy import delete

from ..clock import utcnow
from ..db.engine import Database
from ..db.models import WebhookDelivery
from ..settings import Settings
from . import sender
from .accountability import disable_unaccountable
from .dispatch import any_active, dispatch_once
from .slots import Ready, SendSlots

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
        self.slots = SendSlots(
            total=settings.webhook_max_concurrent_sends,
            per_webhook=settings.webhook_max_in_flight_per_webhook,
            per_workspace=settings.webhook_max_in_flight_per_workspace,
        )
        self._wake = anyio.Event()
        self._last_prune = -math.inf
        self._sends: TaskGroup | None = None
        self._claiming = anyio.Lock()
        # Whether the next pass is a whole round or only fills slots freed by ended sends.
        self._full_round = True
        # Whether the last round saw an active webhook (see ``committed``), and how many times
        # ``wake`` was called (a round's "none" does not hold if a webhook appeared meanwhile).
        self._any_active = True
        self._wakes = 0

    def wake(self) -> None:
        """Start the next round now instead of at the next poll (e.g. after a webhook changed)."""
        self._any_active = True
        self._wakes += 1
        self._full_round = True
        self._wake.set()

    def committed(self) -> None:
        """A local commit wrote events: start a round now, unless the last round found no active
        webhook at all.

        Then there is nobody to deliver to, and a round per commit (five queries) was a third of
        a record write's CPU. A webhook created or re-activated here calls ``wake``; one created
        by another process is found by the next poll round (``webhook_poll_interval_seconds``),
        which dispatches from the log every event after the webhook's creation: later, never lost.
        """
        if self._any_active:
            self.wake()

    async def run(self) -> None:
        """Run rounds until cancelled; then close the HTTP client.

        Sends run in a task group of their own, beside the rounds: each one that ends frees its
        slot and wakes the loop, which then only fills free slots (the hot path under load); a
        whole round runs after ``wake()``, each poll interval, and while rounds find work.
        """
        try:
            async with anyio.create_task_group() as sends:
                self._sends = sends
                while True:
                    busy = False
                    try:
                        if self._full_round:
                            self._full_round = False
                            busy = await self.run_once()
                            self._full_round |= busy
                            await _shielded(self._prune_now_and_then)
                        else:
                            busy = await self.fill_slots() > 0
                    except Exception:
                        logger.exception("webhook round failed; retrying next round")
                    if not busy:
                        poll = self.settings.webhook_poll_interval_seconds
                        with anyio.move_on_after(poll) as waiting:
                            await self._wake.wait()
                        self._full_round |= waiting.cancelled_caught
                    self._wake = anyio.Event()
        finally:
            self._sends = None
            with anyio.CancelScope(shield=True):
                await self.client.aclose()

    async def run_once(self) -> bool:
        """One round: disable webhooks whose member lost access, dispatch new events, start
        sending what is due in the free slots. True if it found work (so there may be more).

        Raises ``RuntimeError`` unless ``run`` is running (its task group carries the sends),
        and whatever the database raises (``run`` logs it and tries again).
        """
        wakes = self._wakes
        active = await _shielded(lambda: any_active(self.db))
        self._any_active = active or self._wakes != wakes
        await _shielded(lambda: disable_unaccountable(self.db, now=utcnow()))
        dispatched = await _shielded(
            lambda: dispatch_once(
                self.db, batch_size=self.settings.webhook_batch_size, now=utcnow()
            )
        )
        started = await self.fill_slots()
        # Claiming fewer than the free slots does not mean nothing is due: another process may
        # have taken the rest a moment ago. Only a round that found nothing at all waits.
        return dispatched.more or dispatched.deliveries > 0 or started > 0

    async def fill_slots(self) -> int:
        """Claim due deliveries for the free send slots (``slots.SendSlots`` shares them out)
        and start sending each; return how many were started. Does not wait for the sends.

        Raises ``RuntimeError`` unless ``run`` is running.
        """
        if self._sends is None:
            raise RuntimeError("the webhook worker is not running")
        sends = self._sends
        # One claim at a time: shares are computed from the counts of what has started.
        async with self._claiming:
            claimed = await _shielded(
                lambda: sender.claim(
                    self.db,
                    slots=self.slots,
                    lease=timedelta(seconds=self.settings.webhook_lease_seconds),
                    now=utcnow(),
                )
            )
            for delivery in claimed:
                self.slots.started(Ready(delivery.webhook_id, delivery.workspace_id))
                sends.start_soon(self._send, delivery)
        return len(claimed)

    async def _send(self, claimed: sender.Claimed) -> None:
        try:
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
        finally:
            self.slots.finished(Ready(claimed.webhook_id, claimed.workspace_id))
            self._wake.set()  # a slot to fill, not a whole round

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
        async with self.db.writer() as session:
            result = await session.execute(
                delete(WebhookDelivery).where(
                    WebhookDelivery.status.in_(("succeeded", "failed")),
                    WebhookDelivery.updated_at < cutoff,
                )
            )
            await session.commit()
        return int(getattr(result, "rowcount", 0) or 0)
