"""The cache of one integration (``pa.cache``): manager, key strategies, records, invalidation.

The service clients read through it when ``enable_caching`` is on and tell it about their
writes; ``with pa.cache.bypass():`` sends the reads inside the block to the network.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from pydantic import BaseModel

from .._clock import Clock
from .._config import IntegrationConfig
from ..types import Event, Record, RecordList, Table
from ._keys import KEYS, RECORD_LIST, Lifetime
from ._levels import CacheLevel, SQLiteCacheLevel
from ._lists import ListQuery
from ._manager import CacheManager
from ._matcher import FieldInfo, Schema
from ._record_cache import RecordCache

M = TypeVar("M", bound=BaseModel)


class Invalidation:
    """Changes from elsewhere into the cache (``pa.cache.invalidation``): events, resets."""

    def __init__(self, cache: Cache) -> None:
        self._cache = cache

    def __repr__(self) -> str:
        return "Invalidation()"

    def apply_event(self, event: Event | Mapping[str, Any]) -> None:
        """Apply one event of contract §8: records are patched, structure changes invalidate.

        Events already applied (by ``seq``, per table) are ignored, so a realtime client and an
        event-log poll may both deliver the same event.
        """
        data = event.model_dump(mode="json") if isinstance(event, Event) else event
        kind = str(data.get("type", ""))
        channel = kind.split(".", 1)[0]
        table_id = data.get("table_id")
        manager = self._cache.manager
        if channel in ("table", "field", "view") and isinstance(table_id, str):
            manager.invalidate_soon(KEYS.table_schemas(table_id=table_id))
        elif channel == "workspace":
            manager.invalidate_soon(KEYS.workspaces())
        self._cache.records.apply_event(data)

    def on_record_updated(
        self,
        table_id: str,
        record_id: str,
        changes: Mapping[str, Any],
        *,
        version: int | None = None,
    ) -> None:
        """Apply ``changes`` (``{field: {"old", "new"}}`` or ``{field: value}``) to a held record.

        ``version`` is the record's new version (the held one plus one when left out). A record
        not held is not fetched: lists of its table that might now hold it are dropped.
        """
        held = self._cache.records.server(record_id)
        if held is None:
            self._cache.records.drop_table(table_id, schema=False)
            return
        values = {
            name: change["new"] if isinstance(change, Mapping) and "new" in change else change
            for name, change in changes.items()
        }
        self._cache.records.put_server(
            held.model_copy(
                update={
                    "fields": {**held.fields, **values},
                    "version": held.version + 1 if version is None else version,
                }
            )
        )

    def on_record_created(self, table_id: str, record: Record) -> None:
        """A record was created: it enters the lists of its table whose filter it matches."""
        self._cache.records.put_server(record)

    def on_record_deleted(self, table_id: str, record_id: str) -> None:
        """A record was deleted: it leaves every cached list."""
        self._cache.records.remove_server(table_id, record_id)

    def on_schema_changed(self, table_id: str) -> None:
        """A table, field or view changed: its schema and record lists are dropped."""
        self._cache.records.drop_table(table_id)
        self._cache.manager.invalidate_soon(KEYS.table_schemas(table_id=table_id))

    def on_reset(self) -> None:
        """Events were lost: every record list and record is dropped, every other entry is stale.

        Nothing is refetched here; each is fetched again on its next read (entries with an SWR
        window are served stale once while they refresh).
        """
        self._cache.records.clear()
        self._cache.manager.memory.mark_stale(self._cache.manager.clock_now())


class Cache:
    """Everything cached by one integration: ``manager``, ``strategies``, ``records``,
    ``invalidation``.

    ``levels`` replaces the shared levels below memory (a ``RedisCacheLevel``, say); by default
    there is a SQLite level when ``cache_config.enable_persistence`` is on.
    """

    def __init__(
        self,
        config: IntegrationConfig,
        clock: Clock,
        *,
        levels: Iterable[CacheLevel] | None = None,
    ) -> None:
        if levels is None:
            settings = config.cache_config
            levels = (
                [SQLiteCacheLevel(settings.persistence_path)] if settings.enable_persistence else []
            )
        self.manager = CacheManager(clock, max_size=config.cache_config.max_size, levels=levels)
        self.manager.enabled = config.enable_caching
        self.strategies = KEYS
        self.records = RecordCache(
            clock.now, clock.monotonic, max_lists=config.cache_config.max_size
        )
        self.records.list_ttl = RECORD_LIST.ttl
        self.invalidation = Invalidation(self)
        self.default_lifetime = Lifetime(ttl=config.default_cache_ttl)

    def __repr__(self) -> str:
        return f"Cache(manager={self.manager!r}, records={self.records!r})"

    @property
    def active(self) -> bool:
        """Whether reads are answered from the cache right now."""
        return not self.manager.bypassed

    @contextmanager
    def bypass(self) -> Iterator[None]:
        """Within this block, reads through the services skip the cache (writes still update it)."""
        with self.manager.bypass():
            yield

    async def invalidate(self, prefix: str) -> None:
        """Drop every entry and record list whose key starts with ``prefix``."""
        self.records.drop_prefix(prefix)
        await self.manager.invalidate(prefix)

    async def clear(self) -> None:
        """Drop everything cached, in every level (pending optimistic layers stay)."""
        self.records.clear()
        await self.manager.clear()

    def scope_to(self, user_id: str | None) -> None:
        """Serve ``user_id``'s data from now on: a new user starts from an empty memory level
        and record layer, and sees only their own entries in the shared levels."""
        scope = user_id or ""
        if scope != self.manager.scope:
            self.records.clear()
            self.manager.scope_to(scope)

    async def aclose(self) -> None:
        """Cancel background refreshes and close the shared levels."""
        await self.manager.aclose()

    # -- read-through, used by the service clients --------------------------------------------

    async def read(
        self,
        key: str,
        model: type[M],
        fetch: Callable[[], Awaitable[M]],
        *,
        lifetime: Lifetime | None = None,
    ) -> M:
        """``model`` for ``key``: from the cache (fresh or within SWR) or fetched and stored.

        Raises:
            ServiceError: whatever ``fetch`` raises when the value had to be fetched.
        """

        async def fetch_json() -> Any:
            return (await fetch()).model_dump(mode="json")

        data = await self.manager.get_or_fetch(
            key, fetch_json, lifetime=lifetime or self.default_lifetime
        )
        return model.model_validate(data)

    async def read_record_list(
        self,
        key: str,
        query: ListQuery,
        fetch: Callable[[], Awaitable[RecordList]],
        load_schema: Callable[[], Awaitable[Table]],
    ) -> RecordList:
        """A page of records from the record layer, or fetched and kept there.

        The table's schema is loaded first when the list filters or sorts, so changes can be
        placed in it. A page fetched while a change reached the table is answered but not kept.

        Raises:
            ServiceError: whatever ``fetch`` or ``load_schema`` raise.
        """
        if not self.active:
            return await fetch()
        cached = self.records.cached_list(key)
        self.manager.count_read(hit=cached is not None)
        if cached is not None:
            return cached
        if (query.filter or query.sort) and not self.records.has_schema(query.table_id):
            self.remember_schema(await load_schema())
        started = self.records.generation(query.table_id)
        page = await fetch()
        if self.records.store_list(key, query, page, started_generation=started):
            # Answered as a hit would be: with the pending optimistic layers on top.
            return self.records.cached_list(key) or page
        return page

    async def read_record(self, record_id: str, fetch: Callable[[], Awaitable[Record]]) -> Record:
        """A record held by the record layer (kept current by events and writes), or fetched.

        Raises:
            ServiceError: whatever ``fetch`` raises.
        """
        if not self.active:
            return await fetch()
        held = self.records.fresh(record_id)
        self.manager.count_read(hit=held is not None)
        if held is not None:
            return held
        record = await fetch()
        self.records.put_server(record)
        return record

    def remember_schema(self, table: Table) -> None:
        """Know ``table``'s fields, so its filtered and sorted lists can be patched."""
        self.records.set_schema(
            table.id,
            Schema([FieldInfo(field.id, field.name, field.type) for field in table.fields]),
        )

    def written(self, records: Iterable[Record]) -> None:
        """Records a local write answered with: the server's truth, applied version-guarded."""
        for record in records:
            self.records.put_server(record)

    def deleted(self, record_ids: Iterable[str], table_id: str | None = None) -> None:
        """Records a local write deleted: they leave every cached list."""
        for record_id in record_ids:
            table = table_id or self.records.table_of(record_id)
            if table is None:
                self.records.forget_everywhere(record_id)
            else:
                self.records.remove_server(table, record_id)

    def schema_written(self, table_id: str) -> None:
        """A local write changed a table, field or view: what depends on it is dropped."""
        self.invalidation.on_schema_changed(table_id)
