"""The field service: the columns of a table."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from .._ids import id_segment
from ..types import FieldList, FieldType, TableField
from ._base import DEFAULT_PER_PAGE, Service, compact, iterate_pages


class FieldService(Service):
    """``/fields``: a table's fields; renaming one renames its key in every record."""

    name = "field"

    async def get_fields(
        self, table_id: str, *, page: int | None = None, per_page: int | None = None
    ) -> FieldList:
        """One page of a table's fields in display order (``.data``, ``.pagination``).

        Raises:
            NotFoundError: the table does not exist or the caller may not see it.
        """
        return await self._call(
            FieldList,
            "GET",
            "/fields",
            params={"table_id": table_id, "page": page, "per_page": per_page},
        )

    async def iter_fields(
        self, table_id: str, *, per_page: int = DEFAULT_PER_PAGE
    ) -> AsyncIterator[TableField]:
        """Every field of a table in display order, fetched a page at a time."""
        async for field in iterate_pages(
            lambda page: self.get_fields(table_id, page=page, per_page=per_page)
        ):
            yield field

    async def get_field(self, field_id: str) -> TableField:
        """One field.

        Raises:
            NotFoundError: it does not exist or the caller may not see it.
        """
        return await self._call(TableField, "GET", f"/fields/{id_segment(field_id, 'fld')}")

    async def create_field(
        self,
        *,
        table_id: str,
        name: str,
        type: FieldType,
        required: bool | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> TableField:
        """Add a field at the end of a table.

        Raises:
            PermissionDeniedError: the caller is not an owner or admin of the workspace.
            InvalidRequestError: the name is taken or the options do not suit the type.
        """
        field = await self._call(
            TableField,
            "POST",
            "/fields",
            json=compact(
                {
                    "table_id": table_id,
                    "name": name,
                    "type": type,
                    "required": required,
                    "options": None if options is None else dict(options),
                }
            ),
        )
        self._schema_changed(field.table_id)
        return field

    async def update_field(
        self,
        field_id: str,
        *,
        name: str | None = None,
        type: FieldType | None = None,
        required: bool | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> TableField:
        """Rename a field, change its type (converting every value) or its options.

        Left-out values are kept.

        Raises:
            PermissionDeniedError: the caller is not an owner or admin of the workspace.
            InvalidRequestError: the name is taken, or some values cannot take the new type.
        """
        field = await self._call(
            TableField,
            "PUT",
            f"/fields/{id_segment(field_id, 'fld')}",
            json=compact(
                {
                    "name": name,
                    "type": type,
                    "required": required,
                    "options": None if options is None else dict(options),
                }
            ),
        )
        self._schema_changed(field.table_id)
        return field

    async def delete_field(self, field_id: str) -> None:
        """Delete a field and its values in every record.

        Raises:
            PermissionDeniedError: the caller is not an owner or admin of the workspace.
            InvalidRequestError: it is the table's primary field.
        """
        table_id = await self._table_of(field_id)
        await self._send("DELETE", f"/fields/{id_segment(field_id, 'fld')}")
        if table_id is not None:
            self._schema_changed(table_id)

    async def _table_of(self, field_id: str) -> str | None:
        """Hook: the table of a field about to be deleted, when its schema is held somewhere
        (the store's read-through asks the backend); None here, without a request."""
        return None
