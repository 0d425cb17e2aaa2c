"""The view service: saved filters, sorts and field layouts of a table."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from .._ids import id_segment
from ..types import View, ViewList, ViewType
from ._base import DEFAULT_PER_PAGE, Service, compact, iterate_pages


class ViewService(Service):
    """``/views``: a table's views; reading records through one applies its filters and sorts."""

    name = "view"

    async def get_views(
        self, table_id: str, *, page: int | None = None, per_page: int | None = None
    ) -> ViewList:
        """One page of a table's views (``.data``, ``.pagination``).

        Raises:
            NotFoundError: the table does not exist or the caller may not see it.
        """
        return await self._call(
            ViewList,
            "GET",
            "/views",
            params={"table_id": table_id, "page": page, "per_page": per_page},
        )

    async def iter_views(
        self, table_id: str, *, per_page: int = DEFAULT_PER_PAGE
    ) -> AsyncIterator[View]:
        """Every view of a table, fetched a page at a time as the loop goes on."""
        async for view in iterate_pages(
            lambda page: self.get_views(table_id, page=page, per_page=per_page)
        ):
            yield view

    async def get_view(self, view_id: str) -> View:
        """One view.

        Raises:
            NotFoundError: it does not exist or the caller may not see it.
        """
        return await self._call(View, "GET", f"/views/{id_segment(view_id, 'viw')}")

    async def create_view(
        self,
        *,
        table_id: str,
        name: str,
        type: ViewType | None = None,
        configuration: Mapping[str, Any] | None = None,
    ) -> View:
        """Create a view (a grid unless ``type`` says otherwise).

        ``configuration``: ``{visible_fields?, field_order?, sorts?, filters?}`` (contract §5).

        Raises:
            PermissionDeniedError: the caller is not an owner or admin of the workspace.
            InvalidRequestError: the configuration names unknown fields or operators.
        """
        view = await self._call(
            View,
            "POST",
            "/views",
            json=compact(
                {
                    "table_id": table_id,
                    "name": name,
                    "type": type,
                    "configuration": None if configuration is None else dict(configuration),
                }
            ),
        )
        self._schema_changed(view.table_id)
        return view

    async def update_view(
        self,
        view_id: str,
        *,
        name: str | None = None,
        type: ViewType | None = None,
        configuration: Mapping[str, Any] | None = None,
    ) -> View:
        """Rename a view, change its type, or replace its whole configuration.

        Left-out values are kept.

        Raises:
            PermissionDeniedError: the caller is not an owner or admin of the workspace.
            InvalidRequestError: the configuration names unknown fields or operators.
        """
        view = await self._call(
            View,
            "PUT",
            f"/views/{id_segment(view_id, 'viw')}",
            json=compact(
                {
                    "name": name,
                    "type": type,
                    "configuration": None if configuration is None else dict(configuration),
                }
            ),
        )
        self._schema_changed(view.table_id)
        return view

    async def delete_view(self, view_id: str) -> None:
        """Delete a view (the records stay).

        Raises:
            PermissionDeniedError: the caller is not an owner or admin of the workspace.
        """
        table_id = await self._table_of(view_id)
        await self._send("DELETE", f"/views/{id_segment(view_id, 'viw')}")
        if table_id is not None:
            self._schema_changed(table_id)

    async def _table_of(self, view_id: str) -> str | None:
        """Hook: the table of a view about to be deleted, when its schema is held somewhere
        (the store's read-through asks the backend); None here, without a request."""
        return None
