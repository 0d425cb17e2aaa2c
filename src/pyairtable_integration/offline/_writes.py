"""The outbox's record writes: the record service's write methods, each recorded first.

A mixin of ``OfflineOutbox``: each method shapes its arguments as the outbox operation of the
same name (``store/_operations``) and hands them to the outbox's ``_write``, which records,
sends and answers (or raises ``OfflineError`` with the entry kept).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from ..services import compact
from ..services.records import RecordUpdate
from ..store import Operation
from ..types import DeletedRecord, Record


class RecordWrites(ABC):
    """``create_record``, ``update_record``, ``replace_record``, ``delete_record`` and their
    batch forms, recorded in the outbox before they are sent."""

    @abstractmethod
    async def _write(
        self, operation: Operation, arguments: Mapping[str, Any], update_id: str | None
    ) -> Any:
        """Record the write, send it, and answer the backend's answer as JSON-ready data.

        Raises:
            OfflineError: the backend could not be reached; the write is kept (``entry_id``).
            OutboxWriteError: the write could not be recorded, and was not sent.
            ServiceError: the backend refused it (the entry is marked failed).
        """

    async def create_record(
        self,
        table_id: str,
        fields: Mapping[str, Any],
        *,
        typecast: bool | None = None,
        update_id: str | None = None,
    ) -> Record:
        """Record, then send, a record creation; the created record.

        Raises:
            OfflineError: the backend could not be reached; the write is kept (``entry_id``).
            OutboxWriteError: the write could not be recorded, and was not sent.
            ServiceError: the backend refused it (the entry is marked failed).
        """
        arguments = compact({"table_id": table_id, "fields": dict(fields), "typecast": typecast})
        return Record.model_validate(await self._write("create_record", arguments, update_id))

    async def update_record(
        self,
        record_id: str,
        fields: Mapping[str, Any],
        *,
        typecast: bool | None = None,
        expected_version: int | None = None,
        table_id: str | None = None,
        update_id: str | None = None,
    ) -> Record:
        """Record, then send, a merge of ``fields`` into a record; the record after it.

        ``table_id`` (the record's table) lets the write be shown in cached lists before the
        cache holds the record; it is not sent.

        Raises:
            OfflineError: the backend could not be reached; the write is kept (``entry_id``).
            OutboxWriteError: the write could not be recorded, and was not sent.
            ConflictError: the record is not at ``expected_version`` (the entry failed).
            ServiceError: the backend refused it otherwise (the entry is marked failed).
        """
        arguments = compact(
            {
                "record_id": record_id,
                "fields": dict(fields),
                "typecast": typecast,
                "expected_version": expected_version,
                "table_id": table_id,
            }
        )
        return Record.model_validate(await self._write("update_record", arguments, update_id))

    async def replace_record(
        self,
        record_id: str,
        fields: Mapping[str, Any],
        *,
        typecast: bool | None = None,
        expected_version: int | None = None,
        table_id: str | None = None,
        update_id: str | None = None,
    ) -> Record:
        """Record, then send, a replacement of all of a record's fields; the record after it.

        ``table_id`` is as for ``update_record``.

        Raises:
            OfflineError: the backend could not be reached; the write is kept (``entry_id``).
            OutboxWriteError: the write could not be recorded, and was not sent.
            ConflictError: the record is not at ``expected_version`` (the entry failed).
            ServiceError: the backend refused it otherwise (the entry is marked failed).
        """
        arguments = compact(
            {
                "record_id": record_id,
                "fields": dict(fields),
                "typecast": typecast,
                "expected_version": expected_version,
                "table_id": table_id,
            }
        )
        return Record.model_validate(await self._write("replace_record", arguments, update_id))

    async def delete_record(
        self,
        record_id: str,
        *,
        expected_version: int | None = None,
        table_id: str | None = None,
        update_id: str | None = None,
    ) -> None:
        """Record, then send, a record deletion; ``table_id`` is as for ``update_record``.

        Raises:
            OfflineError: the backend could not be reached; the write is kept (``entry_id``).
            OutboxWriteError: the write could not be recorded, and was not sent.
            ServiceError: the backend refused it (the entry is marked failed).
        """
        arguments = compact(
            {"record_id": record_id, "expected_version": expected_version, "table_id": table_id}
        )
        await self._write("delete_record", arguments, update_id)

    async def create_records(
        self,
        table_id: str,
        records: Sequence[Mapping[str, Any]],
        *,
        typecast: bool | None = None,
        update_id: str | None = None,
    ) -> list[Record]:
        """Record, then send, a batch creation (all or none); the created records.

        Raises:
            OfflineError: the backend could not be reached; the write is kept (``entry_id``).
            OutboxWriteError: the write could not be recorded, and was not sent.
            ServiceError: the backend refused it (the entry is marked failed).
        """
        arguments = compact(
            {
                "table_id": table_id,
                "records": [dict(fields) for fields in records],
                "typecast": typecast,
            }
        )
        answer = await self._write("create_records", arguments, update_id)
        return [Record.model_validate(item) for item in answer]

    async def update_records(
        self,
        table_id: str,
        records: Sequence[RecordUpdate],
        *,
        typecast: bool | None = None,
        update_id: str | None = None,
    ) -> list[Record]:
        """Record, then send, a batch merge (all or none); the records after it.

        Raises:
            OfflineError: the backend could not be reached; the write is kept (``entry_id``).
            OutboxWriteError: the write could not be recorded, and was not sent.
            ServiceError: the backend refused it (the entry is marked failed).
        """
        arguments = compact(
            {
                "table_id": table_id,
                "records": [{"id": item["id"], "fields": dict(item["fields"])} for item in records],
                "typecast": typecast,
            }
        )
        answer = await self._write("update_records", arguments, update_id)
        return [Record.model_validate(item) for item in answer]

    async def delete_records(
        self, table_id: str, record_ids: Sequence[str], *, update_id: str | None = None
    ) -> list[DeletedRecord]:
        """Record, then send, a batch deletion (all or none); what was deleted.

        Raises:
            OfflineError: the backend could not be reached; the write is kept (``entry_id``).
            OutboxWriteError: the write could not be recorded, and was not sent.
            ServiceError: the backend refused it (the entry is marked failed).
        """
        arguments = {"table_id": table_id, "record_ids": list(record_ids)}
        answer = await self._write("delete_records", arguments, update_id)
        return [DeletedRecord.model_validate(item) for item in answer]
