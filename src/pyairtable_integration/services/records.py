"""The record service: reading records (filtered, sorted, a cursor page at a time) and writing them.

Every write takes an optional ``idempotency_key``: the transport generates one per call
otherwise; a caller that may send the same logical write again later (the offline outbox)
passes its own so the backend applies it once. With ``parking`` set (offline support on), a
write that gets no answer is kept in the outbox with its key and raises ``OfflineError``.
``expected_version`` sends ``If-Match``, so a write to a record someone else changed meanwhile
fails with ``ConflictError`` (``.current`` holds the record as it is now) instead of
overwriting their change.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal, TypedDict

from .._ids import check_id, check_ids, id_segment
from ..types import DeletedBatch, DeletedRecord, Record, RecordBatch, RecordList
from ._base import Service, compact, follow_offsets
from ._parking import Parking, parks

#: The most records one batch call may carry (the backend refuses more, all or nothing).
MAX_BATCH_SIZE = 100


class SortKey(TypedDict, total=False):
    """One sort key: a field by name or id, ascending unless ``direction`` says otherwise."""

    field: str
    direction: Literal["asc", "desc"]


class RecordUpdate(TypedDict):
    """One record of a batch update: its id and the fields to merge into it."""

    id: str
    fields: Mapping[str, Any]


def _if_match(expected_version: int | None) -> dict[str, str] | None:
    return None if expected_version is None else {"If-Match": f'"{expected_version}"'}


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


class RecordService(Service):
    """``/records``: the rows of a table, as ``{field name: value}`` with a version each."""

    name = "record"
    #: Where writes that get no answer are kept (the offline outbox, when it is on); see
    #: ``_parking``. None: such a write raises its ``APIConnectionError``.
    parking: Parking | None = None

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

    @parks("create_record")
    async def create_record(
        self,
        table_id: str,
        fields: Mapping[str, Any],
        *,
        typecast: bool | None = None,
        idempotency_key: str | None = None,
    ) -> Record:
        """Create a record; ``typecast`` converts loose values and adds missing select choices.

        Raises:
            InvalidRequestError: an unknown field or a value that does not suit its field.
            PermissionDeniedError: the caller's role may not write records.
        """
        record = await self._call(
            Record,
            "POST",
            "/records",
            json=compact({"table_id": table_id, "fields": dict(fields), "typecast": typecast}),
            idempotency_key=idempotency_key,
        )
        self._wrote([record])
        return record

    @parks("update_record")
    async def update_record(
        self,
        record_id: str,
        fields: Mapping[str, Any],
        *,
        typecast: bool | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Record:
        """Merge ``fields`` into a record (fields not named keep their values).

        Raises:
            ConflictError: the record is not at ``expected_version`` (``.current`` is it now).
            InvalidRequestError: an unknown field or a value that does not suit its field.
            NotFoundError: it does not exist or the caller may not see it.
        """
        return await self._write_fields(
            "PATCH", record_id, fields, typecast, expected_version, idempotency_key
        )

    @parks("replace_record")
    async def replace_record(
        self,
        record_id: str,
        fields: Mapping[str, Any],
        *,
        typecast: bool | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Record:
        """Replace all of a record's fields with ``fields`` (fields not named are cleared).

        Raises:
            ConflictError: the record is not at ``expected_version`` (``.current`` is it now).
            InvalidRequestError: an unknown field or a value that does not suit its field.
            NotFoundError: it does not exist or the caller may not see it.
        """
        return await self._write_fields(
            "PUT", record_id, fields, typecast, expected_version, idempotency_key
        )

    async def _write_fields(
        self,
        method: str,
        record_id: str,
        fields: Mapping[str, Any],
        typecast: bool | None,
        expected_version: int | None,
        idempotency_key: str | None,
    ) -> Record:
        record = await self._call(
            Record,
            method,
            f"/records/{id_segment(record_id, 'rec')}",
            json=compact({"fields": dict(fields), "typecast": typecast}),
            headers=_if_match(expected_version),
            idempotency_key=idempotency_key,
        )
        self._wrote([record])
        return record

    @parks("delete_record")
    async def delete_record(
        self,
        record_id: str,
        *,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> None:
        """Delete a record (links to it from other records are dropped).

        Raises:
            ConflictError: the record is not at ``expected_version`` (``.current`` is it now).
            NotFoundError: it does not exist or the caller may not see it.
        """
        await self._send(
            "DELETE",
            f"/records/{id_segment(record_id, 'rec')}",
            headers=_if_match(expected_version),
            idempotency_key=idempotency_key,
        )
        self._removed([record_id], None)

    @parks("create_records")
    async def create_records(
        self,
        table_id: str,
        records: Sequence[Mapping[str, Any]],
        *,
        typecast: bool | None = None,
        idempotency_key: str | None = None,
    ) -> list[Record]:
        """Create up to ``MAX_BATCH_SIZE`` records, each given as its fields, all or none.

        Raises:
            InvalidRequestError: more than ``MAX_BATCH_SIZE`` records, or a bad value in any
                (``details.fields`` names each, as ``records.<index>.<field>``).
        """
        answer = await self._call(
            RecordBatch,
            "POST",
            "/records/batch",
            json=compact(
                {
                    "table_id": table_id,
                    "records": [{"fields": dict(fields)} for fields in records],
                    "typecast": typecast,
                }
            ),
            idempotency_key=idempotency_key,
        )
        self._wrote(answer.data)
        return answer.data

    @parks("update_records")
    async def update_records(
        self,
        table_id: str,
        records: Sequence[RecordUpdate],
        *,
        typecast: bool | None = None,
        idempotency_key: str | None = None,
    ) -> list[Record]:
        """Merge new fields into up to ``MAX_BATCH_SIZE`` records (``{"id", "fields"}`` each).

        All or nothing.

        Raises:
            InvalidRequestError: more than ``MAX_BATCH_SIZE`` records, a bad value in any, or an
                id that is not a record of the table (or appears twice).
        """
        answer = await self._call(
            RecordBatch,
            "PATCH",
            "/records/batch",
            json=compact(
                {
                    "table_id": table_id,
                    "records": [
                        {
                            "id": check_id(record["id"], "rec", parameter=f"records[{index}].id"),
                            "fields": dict(record["fields"]),
                        }
                        for index, record in enumerate(records)
                    ],
                    "typecast": typecast,
                }
            ),
            idempotency_key=idempotency_key,
        )
        self._wrote(answer.data)
        return answer.data

    @parks("delete_records")
    async def delete_records(
        self,
        table_id: str,
        record_ids: Sequence[str],
        *,
        idempotency_key: str | None = None,
    ) -> list[DeletedRecord]:
        """Delete up to ``MAX_BATCH_SIZE`` records of a table, all or none.

        Raises:
            InvalidRequestError: more than ``MAX_BATCH_SIZE`` ids, or an id that is not a record
                of the table (or appears twice).
        """
        answer = await self._call(
            DeletedBatch,
            "POST",
            "/records/batch-delete",
            json={
                "table_id": table_id,
                "ids": check_ids(record_ids, "rec", parameter="record_ids"),
            },
            idempotency_key=idempotency_key,
        )
        self._removed([item.id for item in answer.data], table_id)
        return answer.data

    def _wrote(self, records: Sequence[Record]) -> None:
        """Hook: a write answered with ``records`` (the store's read-through applies them)."""

    def _removed(self, record_ids: Sequence[str], table_id: str | None) -> None:
        """Hook: a write deleted ``record_ids`` (of ``table_id``, when known)."""
