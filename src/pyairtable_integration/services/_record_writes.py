"""Writing one record: create, merge, replace, delete, each parked when unanswered.

``RecordWrites`` holds what every record write shares: ``parking`` (where a write without an
answer is kept, the offline outbox when it is on) and the hooks a write announces its answer
through (``_wrote``, ``_removed``: nothing here; the store's read-through applies them).
``expected_version`` sends ``If-Match``, so a write to a record changed meanwhile fails with
``ConflictError`` (``.current`` holds the record as it is now) instead of overwriting it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._ids import id_segment
from ..types import Record
from ._base import Service, compact
from ._parking import Parking, parks


def _if_match(expected_version: int | None) -> dict[str, str] | None:
    return None if expected_version is None else {"If-Match": f'"{expected_version}"'}


class RecordWrites(Service):
    """``/records`` writes of one record, and the parking and hooks every record write shares."""

    #: Where writes that get no answer are kept (the offline outbox, when it is on); see
    #: ``_parking``. None: such a write raises its ``APIConnectionError``.
    parking: Parking | None = None

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

    def _wrote(self, records: Sequence[Record]) -> None:
        """Hook: a write answered with ``records`` (the store's read-through applies them)."""

    def _removed(self, record_ids: Sequence[str], table_id: str | None) -> None:
        """Hook: a write deleted ``record_ids`` (of ``table_id``, when known)."""
