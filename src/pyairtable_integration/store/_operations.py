"""The writes the outbox can hold: one pydantic model per operation, a discriminated union.

An entry stores the operation's name and its arguments (plain JSON), never a request: replaying
it validates them into their model (``OutboxOperation``, discriminated by ``operation``) and
calls the same record-service method with the stored ``Idempotency-Key``, so the request body,
and with it the backend's idempotency fingerprint, is the same on every attempt. Each model says
which existing records it touches (for conflict handling) and how it is sent.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from .._ids import check_id, check_ids, check_request_ids
from ..services.records import RecordService, RecordUpdate

Operation = Literal[
    "create_record",
    "update_record",
    "replace_record",
    "delete_record",
    "create_records",
    "update_records",
    "delete_records",
]


class _Write(BaseModel):
    """What every outbox operation shares: arguments as stored, nothing else accepted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def records_touched(self) -> tuple[str, ...]:
        """The existing records this write changes (none for creates)."""
        return ()

    def check_ids(self) -> None:
        """Check every id the write names by prefix and shape.

        Raises:
            InvalidIdError: one is not an id of its type.
        """
        check_request_ids(self.model_dump())

    @abstractmethod
    async def send(self, records: RecordService, key: str) -> Any:
        """Send the write with ``key``; the answer as JSON-ready data.

        Raises:
            ServiceError: whatever the record service raises.
        """


class CreateRecord(_Write):
    operation: Literal["create_record"] = "create_record"
    table_id: str
    fields: dict[str, Any]
    typecast: bool | None = None

    async def send(self, records: RecordService, key: str) -> Any:
        created = await records.create_record(
            self.table_id, self.fields, typecast=self.typecast, idempotency_key=key
        )
        return created.model_dump(mode="json")


class _OneRecord(_Write):
    # ``table_id`` of a single-record change is not sent: it lets the write be shown in the
    # record cache's lists before the record itself is held there (after a restart, say).
    record_id: str
    expected_version: int | None = None
    table_id: str | None = None

    def records_touched(self) -> tuple[str, ...]:
        return (self.record_id,)


class _FieldsWrite(_OneRecord):
    fields: dict[str, Any]
    typecast: bool | None = None

    async def _write(self, records: RecordService, key: str, *, replace: bool) -> Any:
        write = records.replace_record if replace else records.update_record
        written = await write(
            self.record_id,
            self.fields,
            typecast=self.typecast,
            expected_version=self.expected_version,
            idempotency_key=key,
        )
        return written.model_dump(mode="json")


class UpdateRecord(_FieldsWrite):
    operation: Literal["update_record"] = "update_record"

    async def send(self, records: RecordService, key: str) -> Any:
        return await self._write(records, key, replace=False)


class ReplaceRecord(_FieldsWrite):
    operation: Literal["replace_record"] = "replace_record"

    async def send(self, records: RecordService, key: str) -> Any:
        return await self._write(records, key, replace=True)


class DeleteRecord(_OneRecord):
    operation: Literal["delete_record"] = "delete_record"

    async def send(self, records: RecordService, key: str) -> Any:
        await records.delete_record(
            self.record_id, expected_version=self.expected_version, idempotency_key=key
        )
        return {"id": self.record_id, "deleted": True}


class CreateRecords(_Write):
    operation: Literal["create_records"] = "create_records"
    table_id: str
    records: list[dict[str, Any]]
    typecast: bool | None = None

    async def send(self, records: RecordService, key: str) -> Any:
        created = await records.create_records(
            self.table_id, self.records, typecast=self.typecast, idempotency_key=key
        )
        return [record.model_dump(mode="json") for record in created]


class UpdateRecords(_Write):
    operation: Literal["update_records"] = "update_records"
    table_id: str
    records: list[dict[str, Any]]
    typecast: bool | None = None

    def records_touched(self) -> tuple[str, ...]:
        return tuple(str(item["id"]) for item in self.records)

    def check_ids(self) -> None:
        super().check_ids()
        for index, item in enumerate(self.records):
            check_id(item.get("id"), "rec", parameter=f"records[{index}].id")

    async def send(self, records: RecordService, key: str) -> Any:
        updated = await records.update_records(
            self.table_id,
            cast(list[RecordUpdate], self.records),
            typecast=self.typecast,
            idempotency_key=key,
        )
        return [record.model_dump(mode="json") for record in updated]


class DeleteRecords(_Write):
    operation: Literal["delete_records"] = "delete_records"
    table_id: str
    record_ids: list[str]

    def records_touched(self) -> tuple[str, ...]:
        return tuple(self.record_ids)

    def check_ids(self) -> None:
        super().check_ids()
        check_ids(self.record_ids, "rec", parameter="record_ids")

    async def send(self, records: RecordService, key: str) -> Any:
        deleted = await records.delete_records(self.table_id, self.record_ids, idempotency_key=key)
        return [item.model_dump(mode="json") for item in deleted]


OutboxOperation = Annotated[
    CreateRecord
    | UpdateRecord
    | ReplaceRecord
    | DeleteRecord
    | CreateRecords
    | UpdateRecords
    | DeleteRecords,
    Field(discriminator="operation"),
]
_MODELS: dict[str, type[_Write]] = {
    model.model_fields["operation"].default: model
    for model in (
        CreateRecord,
        UpdateRecord,
        ReplaceRecord,
        DeleteRecord,
        CreateRecords,
        UpdateRecords,
        DeleteRecords,
    )
}
OPERATIONS: frozenset[str] = frozenset(_MODELS)
_ADAPTER: TypeAdapter[OutboxOperation] = TypeAdapter(OutboxOperation)


def parse(operation: str, arguments: Mapping[str, Any]) -> OutboxOperation:
    """The write ``operation`` with ``arguments``, validated into its model.

    Raises:
        ValueError: an unknown operation, a missing or unknown argument (named), or an argument
            of the wrong type.
    """
    model = _MODELS.get(operation)
    if model is None:
        raise ValueError(
            f"The outbox cannot hold {operation!r}; it holds {', '.join(sorted(OPERATIONS))}."
        )
    fields = {name: info for name, info in model.model_fields.items() if name != "operation"}
    required = [name for name, info in fields.items() if info.is_required()]
    missing = [name for name in required if arguments.get(name) is None]
    unknown = sorted(set(arguments) - set(fields))
    if missing or unknown:
        raise ValueError(
            f"{operation} needs {', '.join(required)}"
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
        )
    try:
        return _ADAPTER.validate_python({**arguments, "operation": operation})
    except PydanticValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'][1:])}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)
        )
        raise ValueError(f"{operation}: {problems}") from None


def check_arguments(operation: str, arguments: Mapping[str, Any]) -> None:
    """Check that ``operation`` is known and ``arguments`` are exactly its parameters.

    Raises:
        InvalidIdError: an id argument is not an id of its type (a ``ValueError`` too), so a
            write that could never be sent safely is refused before it is recorded.
        ValueError: an unknown operation, a missing, unknown or mistyped argument.
    """
    parse(operation, arguments).check_ids()


def records_touched(operation: str, arguments: Mapping[str, Any]) -> tuple[str, ...]:
    """The existing records an entry writes to (none for creates), for conflict handling.

    Read from the arguments as stored, without validating them (an entry of an older SDK is
    still shown and failed by its replay, not hidden).
    """
    model = _MODELS.get(operation)
    if model is UpdateRecords:
        return tuple(str(item["id"]) for item in arguments.get("records", ()))
    if model is DeleteRecords:
        return tuple(str(item) for item in arguments.get("record_ids", ()))
    if model is not None and issubclass(model, _OneRecord):
        return (str(arguments["record_id"]),)
    return ()


async def send(
    records: RecordService, operation: str, arguments: Mapping[str, Any], idempotency_key: str
) -> Any:
    """Send one stored write with its key; the answer as JSON-ready data.

    Raises:
        ValueError: the stored arguments are not a valid write (an entry of another SDK).
        ServiceError: whatever the record service raises.
    """
    return await parse(operation, arguments).send(records, idempotency_key)
