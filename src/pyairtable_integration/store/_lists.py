"""Cached record lists: each an ordered list of record ids over the held records.

A change to a record re-evaluates each cached list of its table in place: membership by the
list's filter, position by its sort (``_matcher``). A list that cannot be patched exactly (it
uses a view whose filters the client does not know, it is one page of several, the matcher
cannot decide) is dropped instead, so the next read fetches it; a cached list is never wrong,
only absent. A list is read with the optimistic overlay on top. Pure: no I/O.
"""

from __future__ import annotations

import bisect
import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..types import Record, RecordList
from ._matcher import Schema, Undecidable, matches, sort_key
from ._overlay import Overlay
from ._records import Records


@dataclass(frozen=True)
class ListQuery:
    """What selects a cached list: the parameters of ``get_records``."""

    table_id: str
    view_id: str | None = None
    fields: tuple[str, ...] | None = None
    sort: tuple[Mapping[str, Any], ...] | None = None
    filter: Mapping[str, Any] | None = None
    page_size: int | None = None
    offset: str | None = None


@dataclass
class _List:
    query: ListQuery
    ids: list[str]
    whole: bool  # the first and only page: membership changes can be patched
    total: int
    has_next: bool
    next_offset: str | None
    stored_at: float
    page_size: int


class Lists:
    """Cached lists by key, least recently used first, over ``records`` and ``overlay``.

    At most ``max_lists`` are kept (``evictions`` counts those pushed out); a list older than
    ``list_ttl`` seconds (None: no limit) is not answered.
    """

    def __init__(
        self,
        records: Records,
        overlay: Overlay,
        monotonic: Callable[[], float],
        *,
        max_lists: int,
    ) -> None:
        self.max_lists = max_lists
        self.evictions = 0
        self.list_ttl: float | None = None
        self._records = records
        self._overlay = overlay
        self._monotonic = monotonic
        self._lists: dict[str, _List] = {}

    def __len__(self) -> int:
        return len(self._lists)

    def store(self, key: str, query: ListQuery, page: RecordList, *, started: int) -> bool:
        """Keep ``page`` as list ``key`` unless newer changes happened since it was asked for.

        ``started`` is the table's generation read before the request was sent. The page is
        refused (False) when a change reached the table meanwhile, when it was read before the
        last event applied (``pagination.event_position``), or when any of its records is
        older than the one held: an older answer never overwrites newer data.
        """
        records = self._records
        table_id = query.table_id
        if records.generation(table_id) != started:
            return False
        if page.pagination.event_position < records.last_seq(table_id):
            return False
        if records.would_go_back(page.data):
            return False
        for record in page.data:
            records.hold(record, complete=query.fields is None)
        self._lists[key] = _List(
            query=query,
            ids=[record.id for record in page.data],
            whole=query.offset is None and not page.pagination.has_next,
            total=page.pagination.total,
            has_next=page.pagination.has_next,
            next_offset=page.pagination.next_offset,
            stored_at=self._monotonic(),
            page_size=page.pagination.page_size,
        )
        while len(self._lists) > self.max_lists:
            del self._lists[next(iter(self._lists))]  # the least recently used list
            self.evictions += 1
        return True

    def answer(self, key: str) -> RecordList | None:
        """List ``key`` as a ``RecordList`` answer (with the overlay on top), if held and young."""
        held = self._lists.get(key)
        if held is None:
            return None
        if self.list_ttl is not None and self._monotonic() - held.stored_at >= self.list_ttl:
            del self._lists[key]
            return None
        self._lists[key] = self._lists.pop(key)  # most recently used now
        records = self.view(key)
        if records is None:
            return None
        return RecordList.model_validate(
            {
                "data": records,
                "pagination": {
                    "page_size": held.page_size,
                    "total": len(records) if held.whole else held.total,
                    "has_next": held.has_next,
                    "next_offset": held.next_offset,
                    "event_position": self._records.last_seq(held.query.table_id),
                },
            }
        )

    def view(self, key: str) -> list[Record] | None:
        """The records of list ``key`` as the user should see them: server ⊕ pending layers."""
        held = self._lists.get(key)
        if held is None:
            return None
        ids = list(held.ids)
        pending = self._overlay.touched(held.query.table_id)
        # Take every touched record out first, so placing one never looks at another's view.
        old_index = {record_id: ids.index(record_id) for record_id in pending if record_id in ids}
        ids = [record_id for record_id in ids if record_id not in old_index]
        for record_id in pending:
            view = self._seen(record_id)
            if view is None:
                continue
            was = record_id in old_index
            try:
                belongs = self._matches(held.query, view)
                index = self._place(held.query, ids, view, self._seen)
            except Undecidable:
                belongs, index = was, min(old_index.get(record_id, len(ids)), len(ids))
            if belongs and (was or held.whole):
                ids.insert(index, record_id)
        # A record without a pending layer is seen as the server has it (the common case).
        look = self._seen if pending else self._records.server
        views = [look(record_id) for record_id in ids]
        return [self._project(held.query, view) for view in views if view is not None]

    def keys(self, table_id: str | None = None) -> list[str]:
        """Keys of the cached lists (of ``table_id`` only, when given)."""
        return [
            key
            for key, held in self._lists.items()
            if table_id is None or held.query.table_id == table_id
        ]

    def drop(self, key: str) -> str | None:
        """Forget list ``key``; the table it was of (None when it was not held)."""
        held = self._lists.pop(key, None)
        return None if held is None else held.query.table_id

    def drop_prefix(self, prefix: str) -> tuple[list[str], list[str]]:
        """Forget every list whose key starts with ``prefix``; the keys and tables dropped."""
        keys = [key for key in self._lists if key.startswith(prefix)]
        tables = list(dict.fromkeys(self._lists[key].query.table_id for key in keys))
        for key in keys:
            del self._lists[key]
        return keys, tables

    def drop_table(self, table_id: str) -> None:
        """Forget every list of ``table_id``."""
        for key in self.keys(table_id):
            del self._lists[key]

    def clear(self) -> None:
        """Forget every list."""
        self._lists.clear()

    def reevaluate(self, table_id: str, record_id: str, record: Record | None) -> None:
        """Patch every list of ``table_id`` for ``record`` (None: deleted), or drop it."""
        for key in self.keys(table_id):
            self._reevaluate(key, record_id, record)

    def holding(self, record_id: str) -> list[str]:
        """Drop every list holding ``record_id``; the tables of the lists dropped."""
        tables = []
        for key, held in list(self._lists.items()):
            if record_id in held.ids:
                del self._lists[key]
                tables.append(held.query.table_id)
        return tables

    # -- placing one record ------------------------------------------------------------------

    def _seen(self, record_id: str) -> Record | None:
        return self._overlay.view(record_id, self._records.server(record_id))

    def _reevaluate(self, key: str, record_id: str, record: Record | None) -> None:
        held = self._lists[key]
        was = record_id in held.ids
        if held.query.view_id is not None:
            # The view's own filters and sorts are not known here: refetch rather than guess.
            del self._lists[key]
            return
        try:
            belongs = record is not None and self._matches(held.query, record)
            others = [other for other in held.ids if other != record_id]
            if not belongs:
                if was and not held.whole:
                    raise Undecidable("a record left a page of several")
                held.ids = others
                return
            server = self._records.server(record_id)
            assert server is not None
            index = self._place(held.query, others, server, self._records.server)
            if held.whole:
                others.insert(index, record_id)
                held.ids = others
            elif not (was and held.ids.index(record_id) == index and index < len(held.ids)):
                raise Undecidable("a change moved records across pages")
        except Undecidable:
            del self._lists[key]

    def _schema_for(self, query: ListQuery) -> Schema:
        schema = self._records.schema(query.table_id)
        if schema is None:
            raise Undecidable("the table's fields are not known")
        return schema

    def _matches(self, query: ListQuery, record: Record) -> bool:
        if not query.filter:
            return True
        fields = self._records.complete_fields(record)
        return matches(fields, query.filter, self._schema_for(query))

    def _key(self, query: ListQuery, record: Record) -> tuple[Any, ...]:
        creation = self._records.creation(record)
        if not query.sort:
            return sort_key({}, creation, None, Schema([]))
        fields = self._records.complete_fields(record)
        return sort_key(fields, creation, query.sort, self._schema_for(query))

    def _place(
        self,
        query: ListQuery,
        ids: Sequence[str],
        record: Record,
        look: Callable[[str], Record | None],
    ) -> int:
        keys = []
        for other in ids:
            view = look(other)
            if view is None:
                raise Undecidable("a record of the list is not held")
            keys.append(self._key(query, view))
        # After its equals: records shown optimistically at once keep the order they were made.
        return bisect.bisect_right(keys, self._key(query, record))

    def _project(self, query: ListQuery, record: Record) -> Record:
        if query.fields is None:
            return record
        wanted = set(query.fields)
        schema = self._records.schema(query.table_id)
        if schema is not None:
            for name in query.fields:
                with contextlib.suppress(Undecidable):
                    wanted.add(schema.resolve(name).name)
        kept = {name: value for name, value in record.fields.items() if name in wanted}
        return record.model_copy(update={"fields": kept})
