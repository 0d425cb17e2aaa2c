"""The base service: the bases of a workspace."""

from __future__ import annotations

from collections.abc import AsyncIterator

from .._ids import id_segment
from ..types import Base, BaseList
from ._base import DEFAULT_PER_PAGE, Service, compact, iterate_pages


class BaseService(Service):
    """``/bases``: the bases (groups of tables) inside a workspace."""

    name = "base"

    async def get_bases(
        self, workspace_id: str, *, page: int | None = None, per_page: int | None = None
    ) -> BaseList:
        """One page of a workspace's bases, oldest first (``.data``, ``.pagination``).

        Raises:
            NotFoundError: the workspace does not exist or the caller is not a member.
        """
        return await self._call(
            BaseList,
            "GET",
            "/bases",
            params={"workspace_id": workspace_id, "page": page, "per_page": per_page},
        )

    async def iter_bases(
        self, workspace_id: str, *, per_page: int = DEFAULT_PER_PAGE
    ) -> AsyncIterator[Base]:
        """Every base of a workspace, fetched a page at a time as the loop goes on."""
        async for base in iterate_pages(
            lambda page: self.get_bases(workspace_id, page=page, per_page=per_page)
        ):
            yield base

    async def get_base(self, base_id: str) -> Base:
        """One base.

        Raises:
            NotFoundError: it does not exist or the caller is not a member of its workspace.
        """
        return await self._call(Base, "GET", f"/bases/{id_segment(base_id, 'bas')}")

    async def create_base(
        self, *, workspace_id: str, name: str, description: str | None = None
    ) -> Base:
        """Create an empty base in a workspace.

        Raises:
            PermissionDeniedError: the caller is not an owner or admin of the workspace.
            InvalidRequestError: the name is empty or too long.
        """
        return await self._call(
            Base,
            "POST",
            "/bases",
            json=compact({"workspace_id": workspace_id, "name": name, "description": description}),
        )

    async def update_base(
        self, base_id: str, *, name: str | None = None, description: str | None = None
    ) -> Base:
        """Change a base's name or description (left-out values are kept).

        Raises:
            PermissionDeniedError: the caller is not an owner or admin of the workspace.
        """
        return await self._call(
            Base,
            "PUT",
            f"/bases/{id_segment(base_id, 'bas')}",
            json=compact({"name": name, "description": description}),
        )

    async def delete_base(self, base_id: str) -> None:
        """Delete a base with its tables and records.

        Raises:
            PermissionDeniedError: the caller is not an owner or admin of the workspace.
        """
        await self._send("DELETE", f"/bases/{id_segment(base_id, 'bas')}")
