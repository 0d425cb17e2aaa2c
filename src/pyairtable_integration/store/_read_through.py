"""The read-through: the service clients with their reads answered from the store.

Each class is the stateless service of the same name with the cache added: the reads the
original design caches (a user's profile, the workspace list, a table's schema, record lists and
records) go through ``Cache``, and the services' write hooks tell it what a write changed.
``pa.services`` is ``CachedServices``; the services themselves never import the store.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from ..services import Services
from ..services.records import RecordService
from ..services.tables import TableService
from ..services.users import UserService
from ..services.workspaces import WorkspaceService
from ..transport import Transport
from ..types import Record, RecordList, Table, UserProfile, WorkspaceList
from ._cache import Cache
from ._keys import KEYS, TABLE_SCHEMA, USER_PROFILE, WORKSPACE_LIST
from ._lists import ListQuery


class CachedUserService(UserService):
    """``UserService`` whose profile is cached (``USER_PROFILE``) and dropped when changed."""

    def __init__(self, transport: Transport, cache: Cache) -> None:
        super().__init__(transport)
        self._cache = cache

    async def get_current_user(self) -> UserProfile:
        """The caller's profile, from the cache when current (see ``UserService``).

        Raises:
            AuthenticationError: nobody is signed in or the session ended.
        """
        return await self._cache.read(
            KEYS.user_profile(), UserProfile, super().get_current_user, lifetime=USER_PROFILE
        )

    async def _profile_changed(self) -> None:
        await self._cache.invalidate(KEYS.users())


class CachedWorkspaceService(WorkspaceService):
    """``WorkspaceService`` whose pages of workspaces are cached (``WORKSPACE_LIST``)."""

    def __init__(self, transport: Transport, cache: Cache) -> None:
        super().__init__(transport)
        self._cache = cache

    async def get_workspaces(
        self, *, page: int | None = None, per_page: int | None = None
    ) -> WorkspaceList:
        """One page of the caller's workspaces, from the cache when current."""
        return await self._cache.read(
            KEYS.workspace_list(page=page, per_page=per_page),
            WorkspaceList,
            lambda: super(CachedWorkspaceService, self).get_workspaces(
                page=page, per_page=per_page
            ),
            lifetime=WORKSPACE_LIST,
        )

    async def _changed(self) -> None:
        await self._cache.invalidate(KEYS.workspaces())


class CachedTableService(TableService):
    """``TableService`` whose tables (with their fields) are cached (``TABLE_SCHEMA``) and
    remembered by the record layer, to patch filtered and sorted lists."""

    def __init__(self, transport: Transport, cache: Cache) -> None:
        super().__init__(transport)
        self._cache = cache

    async def get_table(self, table_id: str) -> Table:
        """One table with its fields, from the cache when current.

        Raises:
            NotFoundError: it does not exist or the caller may not see it.
        """
        table = await self._cache.read(
            KEYS.table_schema(table_id=table_id),
            Table,
            lambda: super(CachedTableService, self).get_table(table_id),
            lifetime=TABLE_SCHEMA,
        )
        self._cache.remember_schema(table)
        return table

    def _schema_changed(self, table_id: str) -> None:
        self._cache.schema_written(table_id)


class CachedRecordService(RecordService):
    """``RecordService`` whose pages and records come from the record layer when it holds them
    (kept current by events and writes), and whose writes' answers are applied to it (its
    ``_read_page``, ``_read_record``, ``_wrote`` and ``_removed`` hooks)."""

    def __init__(self, transport: Transport, cache: Cache, tables: TableService) -> None:
        super().__init__(transport)
        self._cache = cache
        self._tables = tables

    async def _read_page(
        self, table_id: str, query: Mapping[str, Any], fetch: Callable[[], Awaitable[RecordList]]
    ) -> RecordList:
        """A page from the record layer when it holds it (the table's schema is loaded first,
        to patch it), else fetched and kept there."""
        sort = query["sort"]
        return await self._cache.read_record_list(
            KEYS.record_list(table_id=table_id, **query),
            ListQuery(
                table_id=table_id,
                view_id=query["view_id"],
                fields=None if query["fields"] is None else tuple(query["fields"]),
                sort=None if sort is None else tuple(sort),
                filter=query["filter"],
                page_size=query["page_size"],
                offset=query["offset"],
            ),
            fetch,
            lambda: self._tables.get_table(table_id),
        )

    async def _read_record(self, record_id: str, fetch: Callable[[], Awaitable[Record]]) -> Record:
        """The record held when it is current, else fetched and held."""
        return await self._cache.read_record(record_id, fetch)

    def _wrote(self, records: Sequence[Record]) -> None:
        self._cache.written(records)

    def _removed(self, record_ids: Sequence[str], table_id: str | None) -> None:
        self._cache.deleted(record_ids, table_id)


class CachedServices(Services):
    """``Services`` with the reads the original design caches going through ``cache``."""

    def __init__(self, transport: Transport, cache: Cache) -> None:
        super().__init__(transport)
        self.user = CachedUserService(transport, cache)
        self.workspace = CachedWorkspaceService(transport, cache)
        self.table = CachedTableService(transport, cache)
        self.record = CachedRecordService(transport, cache, self.table)
