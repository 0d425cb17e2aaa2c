"""The writes the outbox can hold: each one's arguments (plain JSON) and how it is sent.

An entry stores the operation's name and its arguments, never a request: replaying it calls the
same service method with the same arguments and the stored ``Idempotency-Key``, so the request
body, and with it the backend's idempotency fingerprint, is the same on every attempt.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, cast

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

_Send = Callable[[RecordService, Mapping[str, Any], str], Awaitable[Any]]

_REQUIRED: dict[str, tuple[str, ...]] = {
    "create_record": ("table_id", "fields"),
    "update_record": ("record_id", "fields"),
    "replace_record": ("record_id", "fields"),
    "delete_record": ("record_id",),
    "create_records": ("table_id", "records"),
    "update_records": ("table_id", "records"),
    "delete_records": ("table_id", "record_ids"),
}
# ``table_id`` of a single-record change is not sent: it lets the write be shown in the record
# cache's lists before the record itself is held there (after a restart, say).
_OPTIONAL: dict[str, tuple[str, ...]] = {
    "create_record": ("typecast",),
    "update_record": ("typecast", "expected_version", "table_id"),
    "replace_record": ("typecast", "expected_version", "table_id"),
    "delete_record": ("expected_version", "table_id"),
    "create_records": ("typecast",),
    "update_records": ("typecast",),
    "delete_records": (),
}
OPERATIONS: frozenset[str] = frozenset(_REQUIRED)


def check_arguments(operation: str, arguments: Mapping[str, Any]) -> None:
    """Check that ``operation`` is known and ``arguments`` name exactly its parameters.

    Raises:
        InvalidIdError: an id argument is not an id of its type (a ``ValueError`` too), so a
            write that could never be sent safely is refused before it is recorded.
        ValueError: an unknown operation, a missing argument or an unknown one.
    """
    if operation not in _REQUIRED:
        raise ValueError(
            f"The outbox cannot hold {operation!r}; it holds {', '.join(sorted(OPERATIONS))}."
        )
    missing = [name for name in _REQUIRED[operation] if arguments.get(name) is None]
    unknown = sorted(set(arguments) - set(_REQUIRED[operation]) - set(_OPTIONAL[operation]))
    if missing or unknown:
        raise ValueError(
            f"{operation} needs {', '.join(_REQUIRED[operation])}"
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
        )
    check_request_ids(arguments)
    if operation == "update_records":
        for index, item in enumerate(arguments["records"]):
            check_id(item.get("id"), "rec", parameter=f"records[{index}].id")
    if operation == "delete_records":
        check_ids(arguments["record_ids"], "rec", parameter="record_ids")


def records_touched(operation: str, arguments: Mapping[str, Any]) -> tuple[str, ...]:
    """The existing records an entry writes to (none for creates), for conflict handling."""
    if operation in {"update_record", "replace_record", "delete_record"}:
        return (str(arguments["record_id"]),)
    if operation == "update_records":
        return tuple(str(item["id"]) for item in arguments["records"])
    if operation == "delete_records":
        return tuple(str(item) for item in arguments["record_ids"])
    return ()


async def _create_record(records: RecordService, a: Mapping[str, Any], key: str) -> Any:
    created = await records.create_record(
        a["table_id"], a["fields"], typecast=a.get("typecast"), idempotency_key=key
    )
    return created.model_dump(mode="json")


async def _update_record(records: RecordService, a: Mapping[str, Any], key: str) -> Any:
    updated = await records.update_record(
        a["record_id"],
        a["fields"],
        typecast=a.get("typecast"),
        expected_version=a.get("expected_version"),
        idempotency_key=key,
    )
    return updated.model_dump(mode="json")


async def _replace_record(records: RecordService, a: Mapping[str, Any], key: str) -> Any:
    replaced = await records.replace_record(
        a["record_id"],
        a["fields"],
        typecast=a.get("typecast"),
        expected_version=a.get("expected_version"),
        idempotency_key=key,
    )
    return replaced.model_dump(mode="json")


async def _delete_record(records: RecordService, a: Mapping[str, Any], key: str) -> Any:
    await records.delete_record(
        a["record_id"], expected_version=a.get("expected_version"), idempotency_key=key
    )
    return {"id": a["record_id"], "deleted": True}


async def _create_records(records: RecordService, a: Mapping[str, Any], key: str) -> Any:
    created = await records.create_records(
        a["table_id"], a["records"], typecast=a.get("typecast"), idempotency_key=key
    )
    return [record.model_dump(mode="json") for record in created]


async def _update_records(records: RecordService, a: Mapping[str, Any], key: str) -> Any:
    updated = await records.update_records(
        a["table_id"],
        cast(list[RecordUpdate], a["records"]),
        typecast=a.get("typecast"),
        idempotency_key=key,
    )
    return [record.model_dump(mode="json") for record in updated]


async def _delete_records(records: RecordService, a: Mapping[str, Any], key: str) -> Any:
    deleted = await records.delete_records(a["table_id"], a["record_ids"], idempotency_key=key)
    return [item.model_dump(mode="json") for item in deleted]


_SENDERS: dict[str, _Send] = {
    "create_record": _create_record,
    "update_record": _update_record,
    "replace_record": _replace_record,
    "delete_record": _delete_record,
    "create_records": _create_records,
    "update_records": _update_records,
    "delete_records": _delete_records,
}


async def send(
    records: RecordService, operation: str, arguments: Mapping[str, Any], idempotency_key: str
) -> Any:
    """Send one stored write with its key; the answer as JSON-ready data.

    Raises:
        ServiceError: whatever the record service raises.
    """
    return await _SENDERS[operation](records, arguments, idempotency_key)
