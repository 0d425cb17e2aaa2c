"""Limits on attempts that guard credentials (login failures, sign-ups), counted in the database.

Why not the `limits` library that rate-limits requests (``http.rate_limit``): its counters live
in each process's memory unless Redis is configured, so N workers would allow N times the
limit. A limit on password guesses must hold across every worker and instance, and the database
is the one store they all share, with or without Redis. (`limits` has no SQL storage.)

Each limit counts hits per fixed window of its period ("10/15 minutes": windows of 15
minutes), so the answer's ``Retry-After`` is exact: the end of the window. (At a window's edge a
client may spend two windows' worth in a short time; the rate over any longer span is the
limit's.)

An attempt is *reserved* before the work it guards (verifying a password): the hit is counted
with one upsert whose row lock (PostgreSQL) or write lock (SQLite) serialises concurrent
attempts on the same key, so 20 concurrent guesses against a limit of 10 get 10 reservations,
never 20. A refused attempt takes its hit back in the same transaction (it counts nothing), and
a reservation whose attempt turned out fine can be ``release``d or the key ``clear``ed.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, delete, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.models import AttemptCounter
from ..errors import RateLimited
from ..http.rate_limit import Limit


@dataclass(frozen=True)
class Held:
    """One counted hit: which counter row holds it."""

    name: str
    key: str
    window_start: int


@dataclass(frozen=True)
class Reservation:
    """The hits an attempt holds, one per limit it was counted against."""

    held: tuple[Held, ...]


class Attempts:
    """Counts attempts against ``Limit``s; keys are keyed digests, never emails or IPs.

    ``clock`` (Unix seconds, ``time.time``) says which window an attempt falls in; a test holds
    it still so that no window ends halfway through its attempts.
    """

    def __init__(
        self, *, key: bytes, is_sqlite: bool, clock: Callable[[], float] = time.time
    ) -> None:
        self._key = key
        self._insert = sqlite.insert if is_sqlite else postgresql.insert
        self.clock = clock

    def _digest(self, limit: Limit, identifier: str) -> str:
        message = f"{limit.namespace}\0{identifier}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    async def reserve(self, db: AsyncSession, counted: Sequence[tuple[Limit, str]]) -> Reservation:
        """Count one hit on every ``(limit, identifier)`` now (``clock``), all or none, and
        commit.

        Call it with nothing else pending on ``db``. Raises ``RateLimited`` (nothing counted)
        when any of the limits is used up, with the longest wait among them.
        """
        now = self.clock()
        held: list[Held] = []
        waits: list[float] = []
        # Always the same order (the caller's), so two attempts never lock rows crosswise.
        for limit, identifier in counted:
            window = int(limit.item.get_expiry())
            start = int(now // window) * window
            key = self._digest(limit, identifier)
            upsert = self._insert(AttemptCounter).values(
                name=limit.namespace,
                key=key,
                window_start=start,
                hits=1,
                expires_at=start + window,
            )
            hits = (
                await db.execute(
                    upsert.on_conflict_do_update(
                        index_elements=["name", "key", "window_start"],
                        set_={"hits": AttemptCounter.hits + 1},
                    ).returning(AttemptCounter.hits)
                )
            ).scalar_one()
            held.append(Held(limit.namespace, key, start))
            if hits > limit.item.amount:
                waits.append(start + window - now)
        if waits:
            # Refused: the attempt counts for nothing (a blocked client does not extend its
            # own block), exactly like `limits`' hit.
            await db.rollback()
            raise RateLimited(math.ceil(max(waits)), "Too many attempts; try again later.")
        await db.commit()
        return Reservation(tuple(held))

    async def release(self, db: AsyncSession, reservation: Reservation) -> None:
        """Take back the hits of an attempt that turned out fine; commit."""
        if not reservation.held:
            return
        await db.execute(
            update(AttemptCounter)
            .where(
                or_(
                    *(
                        and_(
                            AttemptCounter.name == held.name,
                            AttemptCounter.key == held.key,
                            AttemptCounter.window_start == held.window_start,
                        )
                        for held in reservation.held
                    )
                ),
                AttemptCounter.hits > 0,
            )
            .values(hits=AttemptCounter.hits - 1)
        )
        await db.commit()

    async def clear(self, db: AsyncSession, limit: Limit, identifier: str) -> None:
        """Forget every hit counted on ``identifier`` under ``limit`` (not committed)."""
        await db.execute(
            delete(AttemptCounter).where(
                AttemptCounter.name == limit.namespace,
                AttemptCounter.key == self._digest(limit, identifier),
            )
        )


async def prune(db: AsyncSession, *, now: float) -> None:
    """Delete windows too old to count for anything; commit."""
    await db.execute(delete(AttemptCounter).where(AttemptCounter.expires_at < now))
    await db.commit()
