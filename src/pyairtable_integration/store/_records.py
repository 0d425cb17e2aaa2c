"""The normalized record layer: records by id, and every cached list as an ordered list of ids.

A record is held once, as the server last said it was (its ``version`` guards against older
news), however many cached lists contain it. A change to a record (an event, or the answer to a
local write) re-evaluates each cached list of its table in place: membership by the list's
filter, position by its sort (``_matcher``). A list that cannot be patched exactly (it uses a
view whose filters the client does not know, it is one page of several, the matcher cannot decide)
is dropped instead, so the next read fetches it; a cached list is never wrong, only absent.

Every change of what a reader would see (a record stored or removed, a list stored or dropped, an
optimistic layer added or dropped) is announced to the ``on_change`` listeners as a
``RecordChange``, after the cache is consistent again: live queries re-read their list then.

On top of the server's truth lie the optimistic layers (``apply_optimistic``): pending creates,
updates and deletes, applied in order, that ``get`` and ``list_view`` show until each is dropped.
Pure: no I/O, time from the clock passed in.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from .._subscribable import Listeners
from ..types import Record, RecordList
from ._matcher import Schema, Undecidable, matches, sort_key

OptimisticKind = Literal["create", "update", "delete"]
_STRUCTURE_CHANNELS = ("table", "field", "view")
logger = logging.getLogger("pyairtable_integration.cache")


@dataclass(frozen=True)
class RecordChange:
    """What changed in the record cache: records of ``table_id`` (None: of any table).

    ``record_ids`` names the records whose view changed; empty when a whole list or table did.
    """

    table_id: str | None
    record_ids: tuple[str, ...] = ()


RecordChangeListener = Callable[[RecordChange], None]


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
class _Stored:
    record: Record
    complete: bool  # False when it came from a list that asked for some fields only
    creation: tuple[datetime, int]
    stored_at: float


@dataclass
class _List:
    query: ListQuery
    ids: list[str]
    whole: bool  # the first and only page: membership changes can be patched
    total: int
    has_next: bool
    next_offset: str | None
    stored_at: float
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Layer:
    update_id: str
    table_id: str
    record_id: str
    kind: OptimisticKind
    fields: Mapping[str, Any] | None


class RecordCache:
    """Records by id and cached record lists by key, kept consistent with every change applied.

    ``now`` gives the time for records created optimistically (their ``created_at``).
    """

    def __init__(
        self,
        now: Callable[[], datetime],
        monotonic: Callable[[], float],
        *,
        max_lists: int = 1000,
    ) -> None:
        self.max_lists = max_lists
        self.evictions = 0
        self._now = now
        self._monotonic = monotonic
        self._records: dict[str, _Stored] = {}
        self._deleted: set[str] = set()
        self._lists: dict[str, _List] = {}
        self._schemas: dict[str, Schema] = {}
        self._table_seq: dict[str, int] = {}
        self._generation: dict[str, int] = {}
        self._layers: dict[str, _Layer] = {}
        self._seen = itertools.count()
        self._listeners: Listeners[RecordChange] = Listeners("record cache")
        self.list_ttl: float | None = None

    def __repr__(self) -> str:
        return (
            f"RecordCache(records={len(self._records)}, lists={len(self._lists)}, "
            f"pending={len(self._layers)})"
        )

    def __len__(self) -> int:
        return len(self._records)

    # -- schema and bookkeeping -------------------------------------------------------------

    def set_schema(self, table_id: str, schema: Schema) -> None:
        """Know ``table_id``'s fields, so lists with filters and sorts on it can be patched."""
        self._schemas[table_id] = schema

    def has_schema(self, table_id: str) -> bool:
        """Whether the fields of ``table_id`` are known."""
        return table_id in self._schemas

    def generation(self, table_id: str) -> int:
        """A number that changes with every change applied to ``table_id`` (read before a fetch)."""
        return self._generation.get(table_id, 0)

    def last_seq(self, table_id: str) -> int:
        """The ``seq`` of the last event applied to ``table_id`` (0 when none)."""
        return self._table_seq.get(table_id, 0)

    def table_of(self, record_id: str) -> str | None:
        """The table of a record held (or pending), if known."""
        stored = self._records.get(record_id)
        if stored is not None:
            return stored.record.table_id
        for layer in self._layers.values():
            if layer.record_id == record_id:
                return layer.table_id
        return None

    def _bump(self, table_id: str) -> None:
        self._generation[table_id] = self._generation.get(table_id, 0) + 1

    # -- change notification -----------------------------------------------------------------

    def on_change(self, listener: RecordChangeListener) -> Callable[[], None]:
        """Call ``listener(change)`` after every change a reader would see; returns a function
        that stops it (safe to call twice). A listener that raises is logged and kept."""
        return self._listeners.subscribe(listener)

    @property
    def listener_count(self) -> int:
        """How many ``on_change`` listeners are registered (leak checks)."""
        return len(self._listeners)

    def _changed(self, table_id: str | None, *record_ids: str) -> None:
        if not self._listeners:
            return
        # The cache is consistent already; one broken reader must not stop the others.
        self._listeners.emit(RecordChange(table_id, record_ids))

    # -- lists -------------------------------------------------------------------------------

    def store_list(
        self, key: str, query: ListQuery, page: RecordList, *, started_generation: int
    ) -> bool:
        """Cache a fetched page as list ``key`` unless newer changes happened since it started.

        ``started_generation`` is ``generation(table)`` read before the request was sent. The
        page is refused (False) when a change reached the table meanwhile, when it was read
        before the last event applied (``pagination.event_position``), or when any of its
        records is older than the one held: an older answer never overwrites newer data.
        """
        table_id = query.table_id
        if self.generation(table_id) != started_generation:
            return False
        if page.pagination.event_position < self.last_seq(table_id):
            return False
        complete = query.fields is None
        for record in page.data:
            held = self._records.get(record.id)
            if record.id in self._deleted or (
                held is not None and held.record.version > record.version
            ):
                return False
        for record in page.data:
            self._hold(record, complete=complete)
        self._lists[key] = _List(
            query=query,
            ids=[record.id for record in page.data],
            whole=query.offset is None and not page.pagination.has_next,
            total=page.pagination.total,
            has_next=page.pagination.has_next,
            next_offset=page.pagination.next_offset,
            stored_at=self._monotonic(),
            extra={"page_size": page.pagination.page_size},
        )
        while len(self._lists) > self.max_lists:
            del self._lists[next(iter(self._lists))]  # the least recently used list
            self.evictions += 1
        self._changed(table_id)
        return True

    def cached_list(self, key: str) -> RecordList | None:
        """List ``key`` as a ``RecordList`` answer (with pending optimistic layers), if held."""
        held = self._lists.get(key)
        if held is None:
            return None
        if self.list_ttl is not None and self._monotonic() - held.stored_at >= self.list_ttl:
            del self._lists[key]
            return None
        self._lists[key] = self._lists.pop(key)  # most recently used now
        records = self.list_view(key)
        if records is None:
            return None
        total = len(records) if held.whole else held.total
        return RecordList.model_validate(
            {
                "data": records,
                "pagination": {
                    "page_size": held.extra.get("page_size", len(records)),
                    "total": total,
                    "has_next": held.has_next,
                    "next_offset": held.next_offset,
                    "event_position": self.last_seq(held.query.table_id),
                },
            }
        )

    def list_view(self, key: str) -> list[Record] | None:
        """The records of list ``key`` as the user should see them: server ⊕ pending layers."""
        held = self._lists.get(key)
        if held is None:
            return None
        ids = list(held.ids)
        touched = [
            layer.record_id
            for layer in self._layers.values()
            if layer.table_id == held.query.table_id
        ]
        pending = list(dict.fromkeys(touched))
        # Take every touched record out first, so placing one never looks at another's view.
        old_index = {record_id: ids.index(record_id) for record_id in pending if record_id in ids}
        ids = [record_id for record_id in ids if record_id not in old_index]
        for record_id in pending:
            view = self.get(record_id)
            if view is None:
                continue
            was = record_id in old_index
            try:
                belongs = self._matches(held.query, view)
                index = self._place(held.query, ids, view)
            except Undecidable:
                belongs, index = was, min(old_index.get(record_id, len(ids)), len(ids))
            if belongs and (was or held.whole):
                ids.insert(index, record_id)
        views = [self.get(record_id) for record_id in ids]
        return [self._project(held.query, view) for view in views if view is not None]

    def list_keys(self, table_id: str | None = None) -> list[str]:
        """Keys of the cached lists (of ``table_id`` only, when given)."""
        return [
            key
            for key, held in self._lists.items()
            if table_id is None or held.query.table_id == table_id
        ]

    def drop_list(self, key: str) -> None:
        """Forget list ``key``."""
        held = self._lists.pop(key, None)
        if held is not None:
            self._changed(held.query.table_id)

    def drop_prefix(self, prefix: str) -> list[str]:
        """Forget every list whose key starts with ``prefix``; the keys dropped."""
        keys = [key for key in self._lists if key.startswith(prefix)]
        tables = dict.fromkeys(self._lists[key].query.table_id for key in keys)
        for key in keys:
            del self._lists[key]
        for table_id in tables:
            self._changed(table_id)
        return keys

    def drop_table(self, table_id: str, *, schema: bool = True) -> None:
        """Forget every list of ``table_id`` (and its schema): a structure change hit it."""
        for key in self.list_keys(table_id):
            del self._lists[key]
        if schema:
            self._schemas.pop(table_id, None)
        self._bump(table_id)
        self._changed(table_id)

    def clear(self) -> None:
        """Forget everything but the pending optimistic layers."""
        self._records.clear()
        self._lists.clear()
        self._schemas.clear()
        self._deleted.clear()
        for table_id in list(self._generation):
            self._bump(table_id)
        self._changed(None)

    # -- server truth ------------------------------------------------------------------------

    def put_server(self, record: Record) -> None:
        """Apply the server's word on a record (an event, a write's answer, a fetch).

        Ignored when an equal or newer version is held or the record is known deleted;
        otherwise every cached list of its table is patched, or dropped when it cannot be.
        """
        if record.id in self._deleted:
            return
        held = self._records.get(record.id)
        if held is not None and held.record.version >= record.version and held.complete:
            return
        self._hold(record, complete=True)
        self._bump(record.table_id)
        for key in self.list_keys(record.table_id):
            self._reevaluate(key, record.id, record)
        self._changed(record.table_id, record.id)

    def remove_server(self, table_id: str, record_id: str) -> None:
        """Apply the deletion of a record: it leaves every list; later news of it is ignored."""
        self._deleted.add(record_id)
        self._records.pop(record_id, None)
        self._bump(table_id)
        for key in self.list_keys(table_id):
            self._reevaluate(key, record_id, None)
        self._changed(table_id, record_id)

    def apply_event(self, event: Mapping[str, Any]) -> bool:
        """Apply one event of contract §8 (a dict); whether it changed anything.

        Record events patch records and lists; ``table.*``, ``field.*`` and ``view.*`` events
        drop the table's schema and lists. An event at or before the last ``seq`` applied to its
        table is a repeat and is ignored.
        """
        table_id = event.get("table_id")
        seq = int(event.get("seq") or 0)
        if not isinstance(table_id, str):
            return False
        if seq and seq <= self.last_seq(table_id):
            return False
        if seq:
            self._table_seq[table_id] = seq
        kind = str(event.get("type", ""))
        payload = event.get("payload") or {}
        if kind in ("record.created", "record.updated"):
            self.put_server(Record.model_validate(payload["record"]))
        elif kind == "record.deleted":
            self.remove_server(table_id, str(payload.get("record_id") or event["aggregate_id"]))
        elif kind.split(".", 1)[0] in _STRUCTURE_CHANNELS:
            self.drop_table(table_id)
        else:
            return False
        return True

    # -- optimistic overlay ------------------------------------------------------------------

    def apply_optimistic(
        self,
        update_id: str,
        table_id: str,
        record_id: str,
        kind: OptimisticKind,
        fields: Mapping[str, Any] | None,
    ) -> Record | None:
        """Add a pending layer over a record; the record as the user now sees it (None: deleted).

        A ``create`` uses a temporary id (``tmp_<uuid>``) and appears in every whole list of the
        table whose filter it matches; an ``update`` merges ``fields`` over what lies below; a
        ``delete`` hides the record. Layers on one record apply in the order they were added.

        Raises:
            ValueError: ``update_id`` is already pending.
        """
        if update_id in self._layers:
            raise ValueError(f"update {update_id!r} is already pending")
        self._layers[update_id] = _Layer(
            update_id, table_id, record_id, kind, None if fields is None else dict(fields)
        )
        self._changed(table_id, record_id)
        return self.get(record_id)

    def drop_optimistic(self, update_id: str) -> None:
        """Remove one pending layer (confirmed or rolled back); other layers stay."""
        layer = self._layers.pop(update_id, None)
        if layer is not None:
            self._changed(layer.table_id, layer.record_id)

    def pending_updates(self, record_id: str) -> list[str]:
        """The ids of the layers pending over ``record_id``, oldest first."""
        return [layer.update_id for layer in self._layers.values() if layer.record_id == record_id]

    def pending_records(self, table_id: str) -> set[str]:
        """The ids of the records of ``table_id`` with pending layers (creates under temp ids)."""
        return {layer.record_id for layer in self._layers.values() if layer.table_id == table_id}

    def replace_id(self, temp_id: str, real_record: Record) -> None:
        """Create confirmed: its layer goes; later layers on ``temp_id`` follow the real id."""
        for update_id, layer in list(self._layers.items()):
            if layer.record_id != temp_id:
                continue
            if layer.kind == "create":
                del self._layers[update_id]
            else:
                self._layers[update_id] = _Layer(
                    update_id, layer.table_id, real_record.id, layer.kind, layer.fields
                )
        self.put_server(real_record)
        # put_server is silent when the record was held already (an event came first).
        self._changed(real_record.table_id, temp_id, real_record.id)

    def get(self, record_id: str) -> Record | None:
        """The record as the user should see it: the server's version with pending layers on top."""
        held = self._records.get(record_id)
        view = None if held is None else held.record
        for layer in self._layers.values():
            if layer.record_id != record_id:
                continue
            if layer.kind == "delete":
                view = None
            elif layer.kind == "create":
                now = self._now()
                view = Record(
                    id=record_id,
                    table_id=layer.table_id,
                    fields=dict(layer.fields or {}),
                    version=0,
                    created_at=now,
                    updated_at=now,
                    created_by=None,
                    updated_by=None,
                )
            elif view is not None:
                view = view.model_copy(update={"fields": {**view.fields, **(layer.fields or {})}})
        return view

    def fresh(self, record_id: str) -> Record | None:
        """The record as the server said it was, if held whole and younger than ``list_ttl``."""
        held = self._records.get(record_id)
        if held is None or not held.complete:
            return None
        if self.list_ttl is not None and self._monotonic() - held.stored_at >= self.list_ttl:
            return None
        return held.record

    def forget_everywhere(self, record_id: str) -> None:
        """A record of an unknown table was deleted: drop every list that holds it."""
        self._deleted.add(record_id)
        for key, held in list(self._lists.items()):
            if record_id in held.ids:
                del self._lists[key]
                self._bump(held.query.table_id)
                self._changed(held.query.table_id, record_id)

    def server(self, record_id: str) -> Record | None:
        """The record as the server last said it was, without pending layers."""
        held = self._records.get(record_id)
        return None if held is None else held.record

    # -- internals ---------------------------------------------------------------------------

    def _hold(self, record: Record, *, complete: bool) -> None:
        held = self._records.get(record.id)
        if held is not None:
            if held.record.version > record.version or (
                held.record.version == record.version and (held.complete or not complete)
            ):
                return
            creation = held.creation
        else:
            creation = (record.created_at, next(self._seen))
        self._records[record.id] = _Stored(record, complete, creation, self._monotonic())

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
            assert record is not None
            index = self._place(held.query, others, self._server_view(record_id), self.server)
            if held.whole:
                others.insert(index, record_id)
                held.ids = others
            elif not (was and held.ids.index(record_id) == index and index < len(held.ids)):
                raise Undecidable("a change moved records across pages")
        except Undecidable:
            del self._lists[key]

    def _server_view(self, record_id: str) -> Record:
        return self._records[record_id].record

    def _schema_for(self, query: ListQuery) -> Schema:
        schema = self._schemas.get(query.table_id)
        if schema is None:
            raise Undecidable("the table's fields are not known")
        return schema

    def _complete_fields(self, record: Record) -> Mapping[str, Any]:
        held = self._records.get(record.id)
        if held is not None and held.record is record and not held.complete:
            raise Undecidable("only some fields of the record are known")
        return record.fields

    def _matches(self, query: ListQuery, record: Record) -> bool:
        if not query.filter:
            return True
        return matches(self._complete_fields(record), query.filter, self._schema_for(query))

    def _creation(self, record: Record) -> tuple[datetime, int]:
        held = self._records.get(record.id)
        if held is not None:
            return held.creation
        return (record.created_at, 1 << 62)

    def _key(self, query: ListQuery, record: Record) -> tuple[Any, ...]:
        if not query.sort:
            return sort_key({}, self._creation(record), None, Schema([]))
        fields = self._complete_fields(record)
        return sort_key(fields, self._creation(record), query.sort, self._schema_for(query))

    def _place(
        self,
        query: ListQuery,
        ids: Sequence[str],
        record: Record,
        look: Callable[[str], Record | None] | None = None,
    ) -> int:
        keys = []
        for other in ids:
            view = (look or self.get)(other)
            if view is None:
                raise Undecidable("a record of the list is not held")
            keys.append(self._key(query, view))
        # After its equals: records shown optimistically at once keep the order they were made.
        return bisect.bisect_right(keys, self._key(query, record))

    def _project(self, query: ListQuery, record: Record) -> Record:
        if query.fields is None:
            return record
        wanted = set(query.fields)
        schema = self._schemas.get(query.table_id)
        if schema is not None:
            for name in query.fields:
                with contextlib.suppress(Undecidable):
                    wanted.add(schema.resolve(name).name)
        kept = {name: value for name, value in record.fields.items() if name in wanted}
        return record.model_copy(update={"fields": kept})
