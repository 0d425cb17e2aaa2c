"""Writing records in batches: up to ``MAX_BATCH_SIZE`` created, merged or deleted, all or none.

Each batch is one request with one ``Idempotency-Key``; its ids are checked before it is sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from .._ids import check_id, check_ids
from ..types import DeletedBatch, DeletedRecord, Record, RecordBatch
from ._base import compact
from ._parking import parks
from ._record_writes import RecordWrites

#: The most records one batch call may carry (the backend refuses more, all or nothing).
MAX_BATCH_SIZE = 100


class RecordUpdate(TypedDict):
    """One record of a batch update: its id and the fields to merge into it."""

    id: str
    fields: Mapping[str, Any]


class RecordBatches(RecordWrites):
    """``/records/batch`` writes, announced through the same hooks as one record's writes."""

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
