"""The table service: the tables of a base, each with its fields."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from .._ids import id_segment
from ..types import Table, TableList
from ._base import DEFAULT_PER_PAGE, Service, compact, iterate_pages


class TableService(Service):
    """``/tables``: the tables inside a base; every answer carries the table's fields."""

    name = "table"

    async def get_tables(
        self, base_id: str, *, page: int | None = None, per_page: int | None = None
    ) -> TableList:
        """One page of a base's tables with their fields, oldest first.

        Raises:
            NotFoundError: the base does not exist or the caller may not see it.
        """
        return await self._call(
            TableList,
            "GET",
            "/tables",
            params={"base_id": base_id, "page": page, "per_page": per_page},
        )

    async def iter_tables(
        self, base_id: str, *, per_page: int = DEFAULT_PER_PAGE
    ) -> AsyncIterator[Table]:
        """Every table of a base, fetched a page at a time as the loop goes on."""
        async for table in iterate_pages(
            lambda page: self.get_tables(base_id, page=page, per_page=per_page)
        ):
            yield table

    async def get_table(self, table_id: str) -> Table:
        """One table with its fields.

        Raises:
            NotFoundError: it does not exist or the caller may not see it.
        """
        return await self._call(Table, "GET", f"/tables/{id_segment(table_id, 'tbl')}")

    async def create_table(
        self,
        *,
        base_id: str,
        name: str,
        description: str | None = None,
        fields: Sequence[Mapping[str, Any]] | None = None,
    ) -> Table:
        """Create a table; ``fields`` (``{name, type, required?, options?}`` each, the first is
        the primary field) default to one text field ``Name``.

        Raises:
            PermissionDeniedError: the caller is not an owner or admin of the workspace.
            InvalidRequestError: a name is empty, repeated, or a field's type or options are bad.
        """
        return await self._call(
            Table,
            "POST",
            "/tables",
            json=compact(
                {
                    "base_id": base_id,
                    "name": name,
                    "description": description,
                    "fields": None if fields is None else [dict(field) for field in fields],
                }
            ),
        )

    async def update_table(
        self,
        table_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        primary_field_id: str | None = None,
    ) -> Table:
        """Rename or re-describe a table, or make another of its fields the primary one.

        Left-out values are kept.

        Raises:
            PermissionDeniedError: the caller is not an owner or admin of the workspace.
            InvalidRequestError: ``primary_field_id`` is not a field of this table.
        """
        table = await self._call(
            Table,
            "PUT",
            f"/tables/{id_segment(table_id, 'tbl')}",
            json=compact(
                {"name": name, "description": description, "primary_field_id": primary_field_id}
            ),
        )
        self._schema_changed(table_id)
        return table

    async def delete_table(self, table_id: str) -> None:
        """Delete a table with its fields, views and records.

        Raises:
            PermissionDeniedError: the caller is not an owner or admin of the workspace.
        """
        await self._send("DELETE", f"/tables/{id_segment(table_id, 'tbl')}")
        self._schema_changed(table_id)

    def _schema_changed(self, table_id: str) -> None:
        """Hook: a write changed ``table_id``'s structure (the store drops what depends on it)."""
