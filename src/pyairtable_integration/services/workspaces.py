"""The workspace service: workspaces, their members and their audit log."""

from __future__ import annotations

from collections.abc import AsyncIterator

from .._ids import id_segment
from ..types import (
    AuditEntry,
    AuditLog,
    Workspace,
    WorkspaceList,
    WorkspaceMember,
    WorkspaceRole,
)
from ._base import DEFAULT_PER_PAGE, Service, compact, iterate_pages

#: A member's role (the generated ``WorkspaceRole``, by its former name).
Role = WorkspaceRole


class WorkspaceService(Service):
    """``/workspaces``: the workspaces the caller belongs to and who else belongs to them."""

    name = "workspace"

    async def get_workspaces(
        self, *, page: int | None = None, per_page: int | None = None
    ) -> WorkspaceList:
        """One page of the caller's workspaces, oldest first (``.data``, ``.pagination``)."""
        return await self._call(
            WorkspaceList, "GET", "/workspaces", params={"page": page, "per_page": per_page}
        )

    async def iter_workspaces(
        self, *, per_page: int = DEFAULT_PER_PAGE
    ) -> AsyncIterator[Workspace]:
        """Every workspace of the caller, fetched a page at a time as the loop goes on."""
        async for workspace in iterate_pages(
            lambda page: self.get_workspaces(page=page, per_page=per_page)
        ):
            yield workspace

    async def get_workspace(self, workspace_id: str) -> Workspace:
        """One workspace.

        Raises:
            NotFoundError: it does not exist or the caller is not a member.
        """
        return await self._call(Workspace, "GET", f"/workspaces/{id_segment(workspace_id, 'wsp')}")

    async def create_workspace(self, *, name: str, description: str | None = None) -> Workspace:
        """Create a workspace; the caller becomes its owner.

        Raises:
            InvalidRequestError: the name is empty or too long.
        """
        workspace = await self._call(
            Workspace,
            "POST",
            "/workspaces",
            json=compact({"name": name, "description": description}),
        )
        await self._changed()
        return workspace

    async def update_workspace(
        self, workspace_id: str, *, name: str | None = None, description: str | None = None
    ) -> Workspace:
        """Change a workspace's name or description (left-out values are kept).

        Raises:
            PermissionDeniedError: the caller is not an owner or admin.
        """
        workspace = await self._call(
            Workspace,
            "PUT",
            f"/workspaces/{id_segment(workspace_id, 'wsp')}",
            json=compact({"name": name, "description": description}),
        )
        await self._changed()
        return workspace

    async def delete_workspace(self, workspace_id: str) -> None:
        """Delete a workspace with everything in it.

        Raises:
            PermissionDeniedError: the caller is not its owner.
        """
        await self._send("DELETE", f"/workspaces/{id_segment(workspace_id, 'wsp')}")
        await self._changed()

    async def _changed(self) -> None:
        """Hook: a workspace was created, changed or deleted (the store drops its lists)."""

    async def get_workspace_members(self, workspace_id: str) -> list[WorkspaceMember]:
        """Every member of a workspace, with their user."""
        return await self._call_list(
            WorkspaceMember, "GET", f"/workspaces/{id_segment(workspace_id, 'wsp')}/members"
        )

    async def add_workspace_member(
        self,
        workspace_id: str,
        *,
        user_id: str | None = None,
        email: str | None = None,
        role: Role,
    ) -> WorkspaceMember:
        """Add a user, named by ``user_id`` or ``email``, to a workspace with ``role``.

        Raises:
            InvalidRequestError: neither or both of ``user_id`` and ``email`` were given.
            ConflictError: they are a member already.
            PermissionDeniedError: the caller may not manage members (or not grant ``owner``).
        """
        return await self._call(
            WorkspaceMember,
            "POST",
            f"/workspaces/{id_segment(workspace_id, 'wsp')}/members",
            json=compact({"user_id": user_id, "email": email, "role": role}),
        )

    async def update_workspace_member(
        self, workspace_id: str, user_id: str, *, role: Role
    ) -> WorkspaceMember:
        """Change a member's role.

        Raises:
            ConflictError: it would leave the workspace without an owner.
        """
        return await self._call(
            WorkspaceMember,
            "PATCH",
            f"/workspaces/{id_segment(workspace_id, 'wsp')}/members/{id_segment(user_id, 'usr')}",
            json={"role": role},
        )

    async def remove_workspace_member(self, workspace_id: str, user_id: str) -> None:
        """Remove a member (members may remove themselves).

        Raises:
            ConflictError: it would leave the workspace without an owner.
        """
        await self._send(
            "DELETE",
            f"/workspaces/{id_segment(workspace_id, 'wsp')}/members/{id_segment(user_id, 'usr')}",
        )

    async def get_audit_log(
        self, workspace_id: str, *, page: int | None = None, per_page: int | None = None
    ) -> AuditLog:
        """One page of the workspace's audit log, newest first (owners and admins)."""
        return await self._call(
            AuditLog,
            "GET",
            f"/workspaces/{id_segment(workspace_id, 'wsp')}/audit-log",
            params={"page": page, "per_page": per_page},
        )

    async def iter_audit_log(
        self, workspace_id: str, *, per_page: int = DEFAULT_PER_PAGE
    ) -> AsyncIterator[AuditEntry]:
        """Every audit entry of the workspace, newest first, a page at a time."""
        async for entry in iterate_pages(
            lambda page: self.get_audit_log(workspace_id, page=page, per_page=per_page)
        ):
            yield entry
