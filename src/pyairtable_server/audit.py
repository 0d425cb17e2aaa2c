"""The audit log: one row per write, added in the same transaction as the write (contract §9)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from .db.models import AuditEntry
from .deps import RequestContext


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
            workspace_id=workspace_id,
            user_id=user_id,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            request_id=context.request_id,
            ip=context.ip,
            details=details or {},
        )
    )
