"""Storage quotas: the bytes of stored files per uploader and per workspace.

Usage is the sum of the sizes of the file rows that exist: an account's is every file it
uploaded (private or attached), a workspace's every file bound to it. There is no counter to
keep in step, so anything that removes rows (deleting a file, a workspace and its files, the
collection of private files never attached) frees quota at once.

A check and the write it admits run in one transaction under a lock on the quota's owner, so
two uploads racing for the last bytes of a quota cannot both pass: on PostgreSQL a
transaction-scoped advisory lock per (scope, owner), on SQLite the database's write lock, which
every writer already holds for its whole transaction. The sum is read after the lock is taken
(a new statement: under READ COMMITTED it sees every write committed before the lock was free).

Lock order, to stay clear of deadlocks: record and file row locks first (the callers take them
before they know the sizes), then the account's quota, then the workspace's. Nothing waits for
a row lock while holding a quota lock.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from .db.models import StoredFile
from .errors import PayloadTooLarge

Scope = Literal["user", "workspace"]


class QuotaExceeded(PayloadTooLarge):
    """413 ``QUOTA_EXCEEDED``: the upload (or attachment) would take an account or a workspace
    past its storage quota. ``details``: ``{scope, quota_bytes, used_bytes}``."""

    type = "QUOTA_EXCEEDED"


@dataclass(frozen=True)
class Usage:
    """Bytes stored against one quota, and the quota (None: no limit)."""

    used_bytes: int
    quota_bytes: int | None

    @property
    def room(self) -> int | None:
        """Bytes that may still be added (never negative); None without a limit."""
        return None if self.quota_bytes is None else max(0, self.quota_bytes - self.used_bytes)


@dataclass(frozen=True)
class Quotas:
    """The configured quotas (0 in the settings: no limit) and the database's dialect."""

    per_user: int
    per_workspace: int
    dialect: Literal["sqlite", "postgresql"]

    async def of_user(self, db: AsyncSession, user_id: str) -> Usage:
        """The account's usage: every stored file it uploaded."""
        used = await db.scalar(
            select(func.coalesce(func.sum(StoredFile.size), 0)).where(
                StoredFile.uploaded_by == user_id
            )
        )
        return Usage(int(used or 0), self.per_user or None)

    async def of_workspace(self, db: AsyncSession, workspace_id: str) -> Usage:
        """The workspace's usage: every stored file bound to it."""
        used = await db.scalar(
            select(func.coalesce(func.sum(StoredFile.size), 0)).where(
                StoredFile.workspace_id == workspace_id
            )
        )
        return Usage(int(used or 0), self.per_workspace or None)

    async def tightest(
        self, db: AsyncSession, user_id: str, workspace_id: str | None
    ) -> tuple[Scope, Usage] | None:
        """The limited quota with the least room for an upload by ``user_id`` (into
        ``workspace_id``), read without a lock: what to stream against (``admit`` decides for
        good). None when neither is limited."""
        found: list[tuple[Scope, Usage]] = []
        if self.per_user:
            found.append(("user", await self.of_user(db, user_id)))
        if workspace_id is not None and self.per_workspace:
            found.append(("workspace", await self.of_workspace(db, workspace_id)))
        return min(found, key=lambda pair: pair[1].room or 0, default=None)

    async def admit(
        self,
        db: AsyncSession,
        size: int,
        *,
        user_id: str | None = None,
        workspace_id: str | None = None,
    ) -> None:
        """Lock the account's and the workspace's quotas (those named and limited) until the
        transaction ends and check that ``size`` more bytes fit in each. Call it before the rows
        that add those bytes are flushed, and commit (or roll back) soon after.

        Raises ``QuotaExceeded`` naming the first quota that has no room.
        """
        if user_id is not None and self.per_user:
            await self._lock(db, "user", user_id)
            _check("user", await self.of_user(db, user_id), size)
        if workspace_id is not None and self.per_workspace:
            await self._lock(db, "workspace", workspace_id)
            _check("workspace", await self.of_workspace(db, workspace_id), size)

    async def _lock(self, db: AsyncSession, scope: Scope, owner_id: str) -> None:
        if self.dialect == "postgresql":
            await db.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _key(scope, owner_id)}
            )
        # SQLite: the writer's transaction began with BEGIN IMMEDIATE; it holds the only write
        # lock there is until it ends.


def _key(scope: Scope, owner_id: str) -> int:
    """A signed 64-bit advisory lock key for a quota (hash collisions only serialise more)."""
    digest = hashlib.sha256(f"pyairtable-quota:{scope}:{owner_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _check(scope: Scope, usage: Usage, size: int) -> None:
    if usage.quota_bytes is not None and usage.used_bytes + size > usage.quota_bytes:
        raise exceeded(scope, usage)


def exceeded(scope: Scope, usage: Usage) -> QuotaExceeded:
    """The error for an upload that does not fit in ``usage``'s quota."""
    owner = "your account" if scope == "user" else "this workspace"
    details: dict[str, Any] = {
        "scope": scope,
        "quota_bytes": usage.quota_bytes,
        "used_bytes": usage.used_bytes,
    }
    return QuotaExceeded(
        f"The file does not fit in the storage quota of {owner} "
        f"({usage.used_bytes} of {usage.quota_bytes} bytes used).",
        details=details,
    )
