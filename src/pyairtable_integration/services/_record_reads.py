"""Reading records: a cursor page at a time (filtered, sorted, by URL or JSON body), or one.

``RecordReads`` is the read half of ``RecordService``; ``get_records`` and ``get_record`` answer
through hooks (``_read_page``, ``_read_record``) that fetch here and that the store's
read-through fills from the cache.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal, TypedDict

from .._ids import id_segment
from ..types import Record, RecordList
from ._base import Service, compact, follow_offsets


class SortKey(TypedDict, total=False):
    """One sort key: a field by name or id, ascending unless ``direction`` says otherwise."""

    field: str
    direction: Literal["asc", "desc"]


def _query(
    *,
    view_id: str | None,
    fields: Sequence[str] | None,
    sort: Sequence[SortKey] | None,
    filter: Mapping[str, Any] | None,
    page_size: int | None,
    offset: str | None,
) -> dict[str, Any]:
    return {
        "view_id": view_id,
        "fields": None if fields is None else list(fields),
        "sort": None if sort is None else [dict(spec) for spec in sort],
        "filter": None if filter is None else dict(filter),
        "page_size": page_size,
        "offset": offset,
    }


class RecordReads(Service):
    """``/records`` reads: pages of a table's records, every record of a query, one record."""

    async def get_records(
        self,
        table_id: str,
        *,
        view_id: str | None = None,
        fields: Sequence[str] | None = None,
        sort: Sequence[SortKey] | None = None,
        filter: Mapping[str, Any] | None = None,
        page_size: int | None = None,
        offset: str | None = None,
    ) -> RecordList:
        """One cursor page of a table's records; ``.pagination.next_offset`` asks for the next.

        ``view_id`` applies a view's filters and sorts first; ``fields`` keeps only those
        fields; ``sort`` is ``[{"field", "direction"}]``; ``filter`` has the view filters shape
        ``{"conjunction", "conditions": [{"field", "operator", "value"}]}`` (contract §5).

        Raises:
            InvalidOffsetError: ``offset`` expired or is not one the backend gave.
            InvalidRequestError: an unknown field, operator or malformed filter.
            NotFoundError: the table or view does not exist or the caller may not see it.
        """
        query = _query(
            view_id=view_id,
            fields=fields,
            sort=sort,
            filter=filter,
            page_size=page_size,
            offset=offset,
        )
        return await self._read_page(table_id, query, lambda: self._fetch_records(table_id, query))

    async def _read_page(
        self, table_id: str, query: Mapping[str, Any], fetch: Callable[[], Awaitable[RecordList]]
    ) -> RecordList:
        """Hook: the answer to ``get_records`` (``query``: its parameters); ``fetch()`` here."""
        return await fetch()

    async def _fetch_records(self, table_id: str, query: dict[str, Any]) -> RecordList:
        query = dict(query)
        # Contract §6: ``fields`` repeats in the URL (httpx does that for a list), ``sort``
        # and ``filter`` travel as JSON text.
        for name in ("sort", "filter"):
            if query[name] is not None:
                query[name] = json.dumps(query[name], separators=(",", ":"))
        return await self._call(
            RecordList, "GET", "/records", params={"table_id": table_id, **query}
        )

    async def iter_records(
        self,
        table_id: str,
        *,
        view_id: str | None = None,
        fields: Sequence[str] | None = None,
        sort: Sequence[SortKey] | None = None,
        filter: Mapping[str, Any] | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[Record]:
        """Every record ``get_records`` selects, fetching the next page only when needed.

        Raises:
            InvalidOffsetError: the loop paused so long that the cursor expired.
        """
        async for record in follow_offsets(
            lambda offset: self.get_records(
                table_id,
                view_id=view_id,
                fields=fields,
                sort=sort,
                filter=filter,
                page_size=page_size,
                offset=offset,
            )
        ):
            yield record

    async def query_records(
        self,
        table_id: str,
        *,
        view_id: str | None = None,
        fields: Sequence[str] | None = None,
        sort: Sequence[SortKey] | None = None,
        filter: Mapping[str, Any] | None = None,
        page_size: int | None = None,
        offset: str | None = None,
    ) -> RecordList:
        """``get_records`` with the query in a JSON body, for filters too long for a URL.

        Raises:
            InvalidOffsetError: ``offset`` expired or is not one the backend gave.
            InvalidRequestError: an unknown field, operator or malformed filter.
            NotFoundError: the table or view does not exist or the caller may not see it.
        """
        body = _query(
            view_id=view_id,
            fields=fields,
            sort=sort,
            filter=filter,
            page_size=page_size,
            offset=offset,
        )
        return await self._call(
            RecordList,
            "POST",
            "/records/query",
            json=compact({"table_id": table_id, **body}),
        )

    async def iter_query_records(
        self,
        table_id: str,
        *,
        view_id: str | None = None,
        fields: Sequence[str] | None = None,
        sort: Sequence[SortKey] | None = None,
        filter: Mapping[str, Any] | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[Record]:
        """Every record ``query_records`` selects, fetching the next page only when needed.

        Raises:
            InvalidOffsetError: the loop paused so long that the cursor expired.
        """
        async for record in follow_offsets(
            lambda offset: self.query_records(
                table_id,
                view_id=view_id,
                fields=fields,
                sort=sort,
                filter=filter,
                page_size=page_size,
                offset=offset,
            )
        ):
            yield record

    async def get_record(self, record_id: str) -> Record:
        """One record.

        Raises:
            NotFoundError: it does not exist or the caller may not see it.
        """
        path = f"/records/{id_segment(record_id, 'rec')}"
        return await self._read_record(record_id, lambda: self._call(Record, "GET", path))

    async def _read_record(self, record_id: str, fetch: Callable[[], Awaitable[Record]]) -> Record:
        """Hook: the answer to ``get_record``; ``fetch()`` here."""
        return await fetch()
