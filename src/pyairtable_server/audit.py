"""The audit log: one row per write, added in the same transaction as the write (contract §9)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from .clock import utcnow
from .db.driver import Driver, Statement
from .db.models import AuditEntry, table_of
from .deps import RequestContext

_KEYS = (
    "occurred_at",
    "workspace_id",
    "user_id",
    "action",
    "resource_type",
    "resource_id",
    "request_id",
    "ip",
    "details",
)
_INSERT = Statement(insert(table_of(AuditEntry)), keys=_KEYS)


def record(
    db: AsyncSession,
    context: RequestContext,
    *,
    action: str,
    resource_type: str,
    resource_id: str | None,
    user_id: str | None,
    workspace_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Stage an audit entry; it is written, or not, with the rest of the transaction."""
    db.add(
        AuditEntry(
            **entry(
                context,
                action=action,
                resource_type=resource_type,
                resource_id=resource_id,
                user_id=user_id,
                workspace_id=workspace_id,
                details=details,
            )
        )
    )


def entry(
    context: RequestContext,
    *,
    action: str,
    resource_type: str,
    resource_id: str | None,
    user_id: str | None,
    workspace_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The columns of an audit entry, for ``insert``."""
    return {
        "occurred_at": utcnow(),
        "workspace_id": workspace_id,
        "user_id": user_id,
        "action": action,
        "resource_type": resource_type,
        "resource_id": resource_id,
        "request_id": context.request_id,
        "ip": context.ip,
        "details": details or {},
    }


async def insert_entries(driver: Driver, entries: list[dict[str, Any]]) -> None:
    """Write entries made by ``entry`` in the driver's transaction: on the driver (see
    ``db.driver``), cheaper than an ORM object each (the write path's answer waits for it)."""
    await driver.run_many(_INSERT, entries)
