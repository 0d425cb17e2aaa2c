"""Enforce the role matrix: who may see and do what inside a workspace."""

from __future__ import annotations

from typing import cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .db.models import Workspace, WorkspaceMember
from .errors import NotFound, PermissionDenied
from .ids import looks_like
from .permissions import Permission, Role, allows


async def require_workspace(
    db: AsyncSession,
    user_id: str,
    workspace_id: str,
    permission: Permission,
    *,
    lock: bool = False,
) -> tuple[Workspace, Role]:
    """The workspace and the caller's role in it, if that role holds ``permission``.

    Raises ``NotFound`` when the workspace does not exist or the caller is not a member (the two
    look the same from outside), ``PermissionDenied`` when the role lacks the permission.
    ``lock=True`` holds the workspace row until commit (PostgreSQL; SQLite writers are already
    serialised), so concurrent membership changes cannot both pass the last-owner check.
    """
    if not looks_like(workspace_id, "wsp"):
        raise NotFound("No such workspace.")
    query = (
        select(Workspace, WorkspaceMember.role)
        .join(WorkspaceMember, WorkspaceMember.workspace_id == Workspace.id)
        .where(Workspace.id == workspace_id, WorkspaceMember.user_id == user_id)
    )
    if lock:
        query = query.with_for_update(of=Workspace)
    row = (await db.execute(query)).one_or_none()
    if row is None:
        raise NotFound("No such workspace.")
    workspace, role = row
    role = cast(Role, role)
    if not allows(role, permission):
        raise PermissionDenied(
            f"Your role in this workspace ({role}) does not allow {permission}.",
            details={"role": role, "permission": permission},
        )
    return workspace, role
