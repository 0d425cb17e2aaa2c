"""One page of a table's records: view, filter, sort and keyset cursor, all run in the database."""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, String, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from .. import json_codec
from ..db.models import DataField, DataRecord, DataView, Event
from ..errors import ValidationFailed
from ..events import position
from ..ids import looks_like
from ..schemas.records import RecordQuery
from ..schemas.views import FilterGroup, SortSpec
from . import cursor
from .indexes import in_table
from .query import Compiler, Dialect, seek
from .schema import TableSchema
from .values import Projection


def projection(
    schema: TableSchema, requested: list[str] | None, view: DataView | None
) -> list[DataField] | None:
    """The fields to return, in order: the request's ``fields`` (each a name or id, or a
    comma-separated list of them), else the view's visible fields in its field order, else all.

    Raises ``ValidationFailed`` for an unknown field.
    """
    if requested:
        chosen: list[DataField] = []
        for item in requested:
            whole = schema.find(item)
            parts = (
                [whole]
                if whole
                else [schema.resolve(part.strip(), where="fields") for part in item.split(",")]
            )
            chosen.extend(p for p in parts if p is not None and p not in chosen)
        return chosen
    if view is None:
        return None
    config = view.configuration
    order = config.get("field_order") or []
    rank = {field_id: index for index, field_id in enumerate(order)}
    fields = sorted(schema.fields, key=lambda f: rank.get(f.id, len(rank) + f.position))
    visible = config.get("visible_fields")
    if visible is not None:
        fields = [f for f in fields if f.id in set(visible)]
    return fields


async def load_view(db: AsyncSession, schema: TableSchema, view_id: str | None) -> DataView | None:
    """The view named by ``view_id``; it must belong to the table (``ValidationFailed``)."""
    if view_id is None:
        return None
    view = await db.get(DataView, view_id) if looks_like(view_id, "viw") else None
    if view is None or view.table_id != schema.table.id:
        raise ValidationFailed.field("view_id", "not a view of this table")
    return view


class TotalCache:
    """Filtered totals, remembered until the table changes.

    Counting the records that match a filter scans them all, while the page itself is often
    served from an index in a millisecond; paging and refreshing would pay that scan again and
    again for an answer that has not changed. An entry is valid only while the table's newest
    event is the one seen when it was counted: every change of a record or of the schema writes
    an event for the table (in its transaction), so any change, by any server process, misses.
    A plain LRU dict: a cache library would add a dependency for twenty lines.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        self._entries: OrderedDict[tuple[str, str], tuple[int, int]] = OrderedDict()
        self._max_entries = max_entries

    def get(self, table_id: str, query_id: str, seen: int) -> int | None:
        entry = self._entries.get((table_id, query_id))
        if entry is None or entry[0] != seen:
            return None
        self._entries.move_to_end((table_id, query_id))
        return entry[1]

    def put(self, table_id: str, query_id: str, seen: int, total: int) -> None:
        self._entries[(table_id, query_id)] = (seen, total)
        self._entries.move_to_end((table_id, query_id))
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)


async def _filtered_total(
    db: AsyncSession,
    table_id: str,
    query_id: str,
    conditions: list[ColumnElement[bool]],
    totals: TotalCache,
) -> int:
    # Read the table's newest event before counting: a change that lands in between makes the
    # entry stale at once (its event is newer), never wrongly fresh.
    seen = await db.scalar(select(func.max(Event.seq)).where(Event.table_id == table_id)) or 0
    cached = totals.get(table_id, query_id, seen)
    if cached is not None:
        return cached
    total = await db.scalar(select(func.count()).select_from(DataRecord).where(*conditions)) or 0
    totals.put(table_id, query_id, seen, total)
    return total


async def list_records(
    db: AsyncSession,
    schema: TableSchema,
    params: RecordQuery,
    *,
    dialect: Dialect,
    offset_key: bytes,
    totals: TotalCache,
) -> bytes:
    """A page of records as the JSON of ``RecordList``: the view's filters and the request's
    both apply; the request's sorts come first, then the view's, then creation order.

    Raises ``ValidationFailed`` for unknown fields or bad conditions, ``InvalidOffset`` for an
    offset that is malformed, expired, or from another query.
    """
    event_position = await position(db)
    view = await load_view(db, schema, params.view_id)
    only = projection(schema, params.fields, view)
    shown = Projection(schema, only)
    compiler = Compiler(schema, dialect)
    groups: list[FilterGroup] = []
    sorts: list[SortSpec] = list(params.sort or [])
    if view is not None:
        if view.configuration.get("filters"):
            groups.append(FilterGroup.model_validate(view.configuration["filters"]))
        sorts += [SortSpec.model_validate(s) for s in view.configuration.get("sorts") or []]
    if params.filter is not None:
        groups.append(params.filter)
    # The table as a literal: the planner may then use the table's partial field indexes.
    conditions: list[ColumnElement[bool]] = [in_table(schema.table.id)]
    conditions += [compiler.where(group) for group in groups]
    keys = compiler.order(sorts)
    query_id = cursor.query_hash(
        [
            schema.table.id,
            view.id if view else None,
            view.configuration if view else None,
            params.filter.model_dump() if params.filter else None,
            [s.model_dump() for s in params.sort or []],
        ]
    )
    labels = [key.expr.label(f"k{index}") for index, key in enumerate(keys)]
    # Plain rows, not ORM entities: a page is read, answered and forgotten, and an identity map
    # entry per record was the largest share of a listing's CPU after the JSON.
    query = select(*_WIRE_COLUMNS, *labels).where(*conditions)
    if params.offset is not None:
        values = cursor.decode(offset_key, query_id, params.offset, width=len(keys))
        query = query.where(seek(keys, values))
    order = [key.order_by(dialect) for key in keys]
    rows = (await db.execute(query.order_by(*order).limit(params.page_size + 1))).all()
    has_next = len(rows) > params.page_size
    rows = rows[: params.page_size]
    width = len(_WIRE_COLUMNS)
    next_offset = (
        cursor.encode(offset_key, query_id, [_plain(v) for v in rows[-1][width:]])
        if has_next
        else None
    )
    if groups:
        total = await _filtered_total(db, schema.table.id, query_id, conditions, totals)
    else:
        total = schema.table.record_count
    # Encoded here, once, from plain values: building a model per record and dumping the page
    # through it was the largest share of a listing's CPU.
    return json_codec.encode(
        {
            "data": [shown.wire(row) for row in rows],
            "pagination": {
                "page_size": params.page_size,
                "total": int(total or 0),
                "has_next": has_next,
                "next_offset": next_offset,
                "event_position": event_position,
            },
        }
    )


#: A record's columns as ``Projection.wire`` reads them: the same attribute names as
#: ``DataRecord``, the timestamps as the database hands them back (see ``wire_time``).
_WIRE_COLUMNS = tuple(
    type_coerce(column, String()).label(column.name)
    if column.name in ("created_at", "updated_at")
    else column
    for column in DataRecord.__table__.columns
)


def _plain(value: Any) -> Any:
    # PostgreSQL may hand numbers back as Decimal; offsets carry JSON numbers.
    return float(value) if isinstance(value, Decimal) else value
