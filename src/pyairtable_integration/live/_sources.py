"""Where each kind of live query gets its data and learns that it changed.

Record queries follow the record cache: the services read through it, and its ``on_change``
notification (fired for server answers, realtime events and optimistic layers alike) makes the
query re-read its list. While the integration's all-channel feed runs (caching and realtime on,
``realtime_config.feed_cache``), every event reaches the cache already, so a query holds no
realtime subscription of its own; otherwise it subscribes to its table (or record) while
observed, applying events to the cache, or refetching when there is no cache.

Workspace, base and table queries are small lists: they refetch when the realtime client
reports an event of their kind and scope (``pa.realtime.on_event``; the app's own writes are
not reported there, which is why the services drop the cached entries they change).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..services.records import SortKey
from ..store import RECORD_LIST, TABLE_SCHEMA, WORKSPACE_LIST, RecordChange
from ..types import Base, Event, Record, Table, Workspace
from ._query import Signal, Snapshot, join

if TYPE_CHECKING:
    from ._host import LiveHost

#: Records a records query shows: the first page, as large as the backend allows.
PAGE_SIZE = 100
#: How long a list of bases or tables counts as fresh (they are not cached by the services).
STRUCTURE_STALE_TIME = WORKSPACE_LIST.ttl
_PER_PAGE = 100


def query_text(value: Any) -> str:
    """A stable text form of a query parameter, for query keys."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _feed_runs(pa: LiveHost) -> bool:
    config = pa.config
    return (
        config.enable_caching
        and config.features.enable_realtime
        and config.realtime_config.feed_cache
    )


def _subscribe(
    pa: LiveHost,
    filters: Mapping[str, str],
    notify: Callable[[Signal], None],
) -> Callable[[], None]:
    """A realtime subscription that feeds the cache (or invalidates without one), or nothing."""
    if _feed_runs(pa) or not pa.realtime.enabled:
        return lambda: None
    caching = pa.config.enable_caching

    def take(event: Event) -> None:
        if caching:
            pa.cache.invalidation.apply_event(event)  # the cache tells the query through on_change
        else:
            notify("invalid")

    try:
        subscription = pa.realtime.subscribe(
            "record", filters, take, on_reset=lambda _reset: notify("invalid")
        )
    except RuntimeError:
        return lambda: None  # the integration is closing: no events will come anyway
    return lambda: pa.realtime.unsubscribe(subscription)


class RecordsSource:
    """The first page of a table's records for one query (filter, sort, fields, view)."""

    stale_time = RECORD_LIST.ttl

    def __init__(
        self,
        pa: LiveHost,
        table_id: str,
        *,
        view_id: str | None,
        filter: Mapping[str, Any] | None,
        sort: Sequence[SortKey] | None,
        fields: Sequence[str] | None,
    ) -> None:
        self._pa = pa
        self.table_id = table_id
        self._view_id = view_id
        self._filter = filter
        self._sort = sort
        self._fields = fields
        self.cache_key = pa.cache.strategies.record_list(
            table_id=table_id,
            view_id=view_id,
            fields=fields,
            sort=None if sort is None else [dict(spec) for spec in sort],
            filter=filter,
            page_size=PAGE_SIZE,
        )

    async def fetch(self, *, force: bool) -> Snapshot[list[Record]]:
        """The first page through the record service (``force``: the cached list dropped first).

        Raises:
            ServiceError: the fetch failed.
        """
        if force:
            self._pa.cache.records.drop_list(self.cache_key)
        page = await self._pa.services.record.get_records(
            self.table_id,
            view_id=self._view_id,
            fields=self._fields,
            sort=self._sort,
            filter=self._filter,
            page_size=PAGE_SIZE,
        )
        return Snapshot(page.data, self._optimistic(page.data))

    def peek(self) -> Snapshot[list[Record]] | None:
        """The list as the record cache holds it (None when not held, or past its lifetime)."""
        if not self._pa.config.enable_caching:
            return None
        page = self._pa.cache.records.cached_list(self.cache_key)
        if page is None:
            return None
        return Snapshot(page.data, self._optimistic(page.data))

    def watch(self, notify: Callable[[Signal], None]) -> Callable[[], None]:
        """Listen to the record cache (when caching) and, without the feed, to the table."""
        stops = [_subscribe(self._pa, {"table_id": self.table_id}, notify)]
        if self._pa.config.enable_caching:

            def changed(change: RecordChange) -> None:
                if change.table_id is None or change.table_id == self.table_id:
                    notify("changed")

            stops.append(self._pa.cache.records.on_change(changed))
        return join(*stops)

    def _optimistic(self, records: Sequence[Record]) -> bool:
        cache = self._pa.cache.records
        pending = cache.pending_records(self.table_id)
        if not pending:
            return False
        shown = {record.id for record in records}
        # A row with layers, or a row hidden by a pending delete.
        return bool(pending & shown) or any(cache.get(record_id) is None for record_id in pending)


class RecordSource:
    """One record (None while a pending delete hides it)."""

    stale_time = RECORD_LIST.ttl

    def __init__(self, pa: LiveHost, record_id: str) -> None:
        self._pa = pa
        self.record_id = record_id

    async def fetch(self, *, force: bool) -> Snapshot[Record | None]:
        """The record through the record service (``force``: from the network).

        Raises:
            ServiceError: the fetch failed (``NotFoundError`` once it is deleted).
        """
        service = self._pa.services.record
        if force:
            with self._pa.cache.bypass():
                record = await service.get_record(self.record_id)
            if self._pa.config.enable_caching:
                self._pa.cache.written([record])
        else:
            record = await service.get_record(self.record_id)
        return self.peek() or Snapshot(record)

    def peek(self) -> Snapshot[Record | None] | None:
        """The record as the cache shows it (layers on top), or None when not held."""
        cache = self._pa.cache.records
        pending = bool(cache.pending_updates(self.record_id))
        view = cache.get(self.record_id)
        if view is None:
            return Snapshot(None, True) if pending else None
        if not pending and cache.fresh(self.record_id) is None:
            return None
        return Snapshot(view, pending)

    def watch(self, notify: Callable[[Signal], None]) -> Callable[[], None]:
        """Listen to the record cache and, without the feed, to the record's events."""

        def changed(change: RecordChange) -> None:
            whole_table = not change.record_ids and change.table_id == (
                self._pa.cache.records.table_of(self.record_id)
            )
            if change.table_id is None or self.record_id in change.record_ids or whole_table:
                notify("changed")

        return join(
            _subscribe(self._pa, {"aggregate_id": self.record_id}, notify),
            self._pa.cache.records.on_change(changed),
        )


class _StructureSource:
    """A small list or object that refetches on events of its kind and scope."""

    stale_time = STRUCTURE_STALE_TIME
    channels: tuple[str, ...] = ()

    def __init__(self, pa: LiveHost, scope: Mapping[str, str]) -> None:
        self._pa = pa
        self._scope = dict(scope)

    def peek(self) -> None:
        """Not held by the record cache: always fetched."""

    def watch(self, notify: Callable[[Signal], None]) -> Callable[[], None]:
        """Refetch when the realtime client reports an event of this kind and scope."""

        def seen(event: Event) -> None:
            if event.channel not in self.channels:
                return
            if all(getattr(event, name, None) == value for name, value in self._scope.items()):
                notify("invalid")

        return self._pa.realtime.on_event(seen)


class WorkspacesSource(_StructureSource):
    """The signed-in user's workspaces."""

    stale_time = WORKSPACE_LIST.ttl
    channels = ("workspace",)

    def __init__(self, pa: LiveHost) -> None:
        super().__init__(pa, {})

    async def fetch(self, *, force: bool) -> Snapshot[list[Workspace]]:
        """The first page of workspaces (``force``: the cached copy dropped first).

        Raises:
            ServiceError: the fetch failed.
        """
        if force:
            await self._pa.cache.invalidate(self._pa.cache.strategies.workspaces())
        answer = await self._pa.services.workspace.get_workspaces(per_page=_PER_PAGE)
        return Snapshot(answer.data)


class BasesSource(_StructureSource):
    """The bases of a workspace."""

    channels = ("base",)

    def __init__(self, pa: LiveHost, workspace_id: str) -> None:
        super().__init__(pa, {"workspace_id": workspace_id})
        self._workspace_id = workspace_id

    async def fetch(self, *, force: bool) -> Snapshot[list[Base]]:
        """The first page of the workspace's bases.

        Raises:
            ServiceError: the fetch failed.
        """
        answer = await self._pa.services.base.get_bases(self._workspace_id, per_page=_PER_PAGE)
        return Snapshot(answer.data)


class TablesSource(_StructureSource):
    """The tables of a base, with their fields."""

    channels = ("table", "field")

    def __init__(self, pa: LiveHost, base_id: str) -> None:
        super().__init__(pa, {"base_id": base_id})
        self._base_id = base_id

    async def fetch(self, *, force: bool) -> Snapshot[list[Table]]:
        """The first page of the base's tables.

        Raises:
            ServiceError: the fetch failed.
        """
        answer = await self._pa.services.table.get_tables(self._base_id, per_page=_PER_PAGE)
        return Snapshot(answer.data)


class TableSource(_StructureSource):
    """One table with its fields (the grid's columns)."""

    stale_time = TABLE_SCHEMA.ttl
    channels = ("table", "field", "view")

    def __init__(self, pa: LiveHost, table_id: str) -> None:
        super().__init__(pa, {"table_id": table_id})
        self._table_id = table_id

    async def fetch(self, *, force: bool) -> Snapshot[Table]:
        """The table (``force``: its cached schema dropped first).

        Raises:
            ServiceError: the fetch failed.
        """
        if force:
            await self._pa.cache.invalidate(
                self._pa.cache.strategies.table_schemas(table_id=self._table_id)
            )
        return Snapshot(await self._pa.services.table.get_table(self._table_id))
