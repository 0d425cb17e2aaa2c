"""The server's truth about records: each held once, by id, as the server last said it was.

A record's ``version`` guards against older news: an answer or event about an older version
never replaces a newer one, and a record known deleted is never brought back. Beside the
records: the tables' schemas (to patch filtered and sorted lists), the ``seq`` of the last event
applied per table, and a generation per table that moves with every change (a fetch that started
before a change must not be kept). Pure: no I/O, time from the clock passed in.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..types import Record
from ._matcher import Schema, Undecidable


@dataclass
class Stored:
    """A record held: ``complete`` is False when it came from a list of some fields only."""

    record: Record
    complete: bool
    creation: tuple[datetime, int]
    stored_at: float


class Records:
    """Records by id as the server said, the known deletions, schemas and per-table counters."""

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self._held: dict[str, Stored] = {}
        self._deleted: set[str] = set()
        self._schemas: dict[str, Schema] = {}
        self._table_seq: dict[str, int] = {}
        self._generation: dict[str, int] = {}
        self._seen = itertools.count()

    def __len__(self) -> int:
        return len(self._held)

    # -- schemas and counters ----------------------------------------------------------------

    def set_schema(self, table_id: str, schema: Schema) -> None:
        """Know ``table_id``'s fields."""
        self._schemas[table_id] = schema

    def has_schema(self, table_id: str) -> bool:
        """Whether the fields of ``table_id`` are known."""
        return table_id in self._schemas

    def schema(self, table_id: str) -> Schema | None:
        """The fields of ``table_id``, if known."""
        return self._schemas.get(table_id)

    def drop_schema(self, table_id: str) -> None:
        """Forget the fields of ``table_id`` (its structure changed)."""
        self._schemas.pop(table_id, None)

    def generation(self, table_id: str) -> int:
        """A number that changes with every change applied to ``table_id``."""
        return self._generation.get(table_id, 0)

    def bump(self, table_id: str) -> None:
        """Move ``table_id``'s generation on: a fetch started before now is not kept."""
        self._generation[table_id] = self._generation.get(table_id, 0) + 1

    def last_seq(self, table_id: str) -> int:
        """The ``seq`` of the last event applied to ``table_id`` (0 when none)."""
        return self._table_seq.get(table_id, 0)

    def see_seq(self, table_id: str, seq: int) -> bool:
        """Note event ``seq`` of ``table_id``; False when it is a repeat (at or before the last)."""
        if seq and seq <= self.last_seq(table_id):
            return False
        if seq:
            self._table_seq[table_id] = seq
        return True

    # -- records -----------------------------------------------------------------------------

    def stored(self, record_id: str) -> Stored | None:
        """The record held, with what is known about it."""
        return self._held.get(record_id)

    def server(self, record_id: str) -> Record | None:
        """The record as the server last said it was."""
        held = self._held.get(record_id)
        return None if held is None else held.record

    def fresh(self, record_id: str, ttl: float | None) -> Record | None:
        """The record, if held whole and stored less than ``ttl`` seconds ago (None: no limit)."""
        held = self._held.get(record_id)
        if held is None or not held.complete:
            return None
        if ttl is not None and self._monotonic() - held.stored_at >= ttl:
            return None
        return held.record

    def is_current(self, record: Record) -> bool:
        """Whether what is held already says as much as ``record`` (or it is known deleted)."""
        if record.id in self._deleted:
            return True
        held = self._held.get(record.id)
        return held is not None and held.record.version >= record.version and held.complete

    def would_go_back(self, records: Iterable[Record]) -> bool:
        """Whether any of ``records`` is known deleted or older than the one held."""
        for record in records:
            held = self._held.get(record.id)
            if record.id in self._deleted or (
                held is not None and held.record.version > record.version
            ):
                return True
        return False

    def hold(self, record: Record, *, complete: bool) -> None:
        """Keep ``record`` unless what is held is newer, or as new and at least as complete."""
        held = self._held.get(record.id)
        if held is not None:
            if held.record.version > record.version or (
                held.record.version == record.version and (held.complete or not complete)
            ):
                return
            creation = held.creation
        else:
            creation = (record.created_at, next(self._seen))
        self._held[record.id] = Stored(record, complete, creation, self._monotonic())

    def remove(self, record_id: str) -> None:
        """The record was deleted: forget it, and ignore later news of it."""
        self._deleted.add(record_id)
        self._held.pop(record_id, None)

    def clear(self) -> None:
        """Forget every record, deletion and schema; every table's generation moves on."""
        self._held.clear()
        self._schemas.clear()
        self._deleted.clear()
        for table_id in list(self._generation):
            self.bump(table_id)

    # -- what lists need to place a record ---------------------------------------------------

    def creation(self, record: Record) -> tuple[datetime, int]:
        """The order of creation: ``created_at``, then the order first seen (unseen: last)."""
        held = self._held.get(record.id)
        if held is not None:
            return held.creation
        return (record.created_at, 1 << 62)

    def complete_fields(self, record: Record) -> Mapping[str, Any]:
        """``record``'s fields, when they are all of them.

        Raises:
            Undecidable: ``record`` is the held copy of a list that asked for some fields only.
        """
        held = self._held.get(record.id)
        if held is not None and held.record is record and not held.complete:
            raise Undecidable("only some fields of the record are known")
        return record.fields
