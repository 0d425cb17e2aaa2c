"""The normalized record layer: the server's records (``_records``), the cached lists over them
(``_lists``) and the optimistic overlay on top (``_overlay``), kept consistent as one.

A record is held once, however many cached lists contain it. A change to a record (an event, or
the answer to a local write) patches every cached list of its table, or drops the ones that
cannot be patched exactly. Every change of what a reader would see (a record stored or removed,
a list stored or dropped, an optimistic layer added or dropped) is announced to the
``on_change`` listeners as a ``RecordChange``, after the layer is consistent again: live queries
re-read their list then. Pure: no I/O, time from the clock passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .._subscribable import Listeners
from ..types import Record, RecordList
from ._lists import ListQuery, Lists
from ._matcher import Schema
from ._overlay import OptimisticKind, Overlay
from ._records import Records

_STRUCTURE_CHANNELS = ("table", "field", "view")


@dataclass(frozen=True)
class RecordChange:
    """What changed in the record cache: records of ``table_id`` (None: of any table).

    ``record_ids`` names the records whose view changed; empty when a whole list or table did.
    """

    table_id: str | None
    record_ids: tuple[str, ...] = ()


RecordChangeListener = Callable[[RecordChange], None]


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
        self._records = Records(monotonic)
        self._overlay = Overlay(now)
        self._lists = Lists(self._records, self._overlay, monotonic, max_lists=max_lists)
        self._listeners: Listeners[RecordChange] = Listeners("record cache")

    def __repr__(self) -> str:
        return (
            f"RecordCache(records={len(self._records)}, lists={len(self._lists)}, "
            f"pending={len(self._overlay)})"
        )

    def __len__(self) -> int:
        return len(self._records)

    @property
    def max_lists(self) -> int:
        """How many lists are kept at most (the least recently used go first)."""
        return self._lists.max_lists

    @property
    def evictions(self) -> int:
        """How many lists were pushed out by newer ones."""
        return self._lists.evictions

    @property
    def list_ttl(self) -> float | None:
        """How long a list or record counts as current, in seconds (None: until changed)."""
        return self._lists.list_ttl

    @list_ttl.setter
    def list_ttl(self, value: float | None) -> None:
        self._lists.list_ttl = value

    # -- schema and bookkeeping -------------------------------------------------------------

    def set_schema(self, table_id: str, schema: Schema) -> None:
        """Know ``table_id``'s fields, so lists with filters and sorts on it can be patched."""
        self._records.set_schema(table_id, schema)

    def has_schema(self, table_id: str) -> bool:
        """Whether the fields of ``table_id`` are known."""
        return self._records.has_schema(table_id)

    def generation(self, table_id: str) -> int:
        """A number that changes with every change applied to ``table_id`` (read before a fetch)."""
        return self._records.generation(table_id)

    def last_seq(self, table_id: str) -> int:
        """The ``seq`` of the last event applied to ``table_id`` (0 when none)."""
        return self._records.last_seq(table_id)

    def table_of(self, record_id: str) -> str | None:
        """The table of a record held (or pending), if known."""
        held = self._records.server(record_id)
        return held.table_id if held is not None else self._overlay.table_of(record_id)

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
        if self._listeners:
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
        if not self._lists.store(key, query, page, started=started_generation):
            return False
        self._changed(query.table_id)
        return True

    def cached_list(self, key: str) -> RecordList | None:
        """List ``key`` as a ``RecordList`` answer (with pending optimistic layers), if held."""
        return self._lists.answer(key)

    def list_view(self, key: str) -> list[Record] | None:
        """The records of list ``key`` as the user should see them: server ⊕ pending layers."""
        return self._lists.view(key)

    def list_keys(self, table_id: str | None = None) -> list[str]:
        """Keys of the cached lists (of ``table_id`` only, when given)."""
        return self._lists.keys(table_id)

    def drop_list(self, key: str) -> None:
        """Forget list ``key``."""
        table_id = self._lists.drop(key)
        if table_id is not None:
            self._changed(table_id)

    def drop_prefix(self, prefix: str) -> list[str]:
        """Forget every list whose key starts with ``prefix``; the keys dropped."""
        keys, tables = self._lists.drop_prefix(prefix)
        for table_id in tables:
            self._changed(table_id)
        return keys

    def drop_table(self, table_id: str, *, schema: bool = True) -> None:
        """Forget every list of ``table_id`` (and its schema): a structure change hit it."""
        self._lists.drop_table(table_id)
        if schema:
            self._records.drop_schema(table_id)
        self._records.bump(table_id)
        self._changed(table_id)

    def clear(self) -> None:
        """Forget everything but the pending optimistic layers."""
        self._records.clear()
        self._lists.clear()
        self._changed(None)

    # -- server truth ------------------------------------------------------------------------

    def put_server(self, record: Record) -> None:
        """Apply the server's word on a record (an event, a write's answer, a fetch).

        Ignored when an equal or newer version is held or the record is known deleted;
        otherwise every cached list of its table is patched, or dropped when it cannot be.
        """
        if self._records.is_current(record):
            return
        self._records.hold(record, complete=True)
        self._records.bump(record.table_id)
        self._lists.reevaluate(record.table_id, record.id, record)
        self._changed(record.table_id, record.id)

    def remove_server(self, table_id: str, record_id: str) -> None:
        """Apply the deletion of a record: it leaves every list; later news of it is ignored."""
        self._records.remove(record_id)
        self._records.bump(table_id)
        self._lists.reevaluate(table_id, record_id, None)
        self._changed(table_id, record_id)

    def apply_event(self, event: Mapping[str, Any]) -> bool:
        """Apply one event of contract §8 (a dict); whether it changed anything.

        Record events patch records and lists; ``table.*``, ``field.*`` and ``view.*`` events
        drop the table's schema and lists. An event at or before the last ``seq`` applied to its
        table is a repeat and is ignored.
        """
        table_id = event.get("table_id")
        if not isinstance(table_id, str):
            return False
        if not self._records.see_seq(table_id, int(event.get("seq") or 0)):
            return False
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

    def fresh(self, record_id: str) -> Record | None:
        """The record as the server said it was, if held whole and younger than ``list_ttl``."""
        return self._records.fresh(record_id, self.list_ttl)

    def server(self, record_id: str) -> Record | None:
        """The record as the server last said it was, without pending layers."""
        return self._records.server(record_id)

    def forget_everywhere(self, record_id: str) -> None:
        """A record of an unknown table was deleted: drop every list that holds it."""
        self._records.remove(record_id)
        for table_id in self._lists.holding(record_id):
            self._records.bump(table_id)
            self._changed(table_id, record_id)

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
        self._overlay.add(update_id, table_id, record_id, kind, fields)
        self._changed(table_id, record_id)
        return self.get(record_id)

    def drop_optimistic(self, update_id: str) -> None:
        """Remove one pending layer (confirmed or rolled back); other layers stay."""
        layer = self._overlay.drop(update_id)
        if layer is not None:
            self._changed(layer.table_id, layer.record_id)

    def pending_updates(self, record_id: str) -> list[str]:
        """The ids of the layers pending over ``record_id``, oldest first."""
        return self._overlay.pending_updates(record_id)

    def pending_records(self, table_id: str) -> set[str]:
        """The ids of the records of ``table_id`` with pending layers (creates under temp ids)."""
        return self._overlay.pending_records(table_id)

    def replace_id(self, temp_id: str, real_record: Record) -> None:
        """Create confirmed: its layer goes; later layers on ``temp_id`` follow the real id."""
        self._overlay.follow(temp_id, real_record.id)
        self.put_server(real_record)
        # put_server is silent when the record was held already (an event came first).
        self._changed(real_record.table_id, temp_id, real_record.id)

    def get(self, record_id: str) -> Record | None:
        """The record as the user should see it: the server's version with pending layers on top."""
        return self._overlay.view(record_id, self._records.server(record_id))
