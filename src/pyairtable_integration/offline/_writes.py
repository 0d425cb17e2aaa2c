"""The outbox's record writes, derived from one description: the outbox operations.

Each write's signature (``_Signatures``) is its public API, typed for ``mypy`` and copied by the
blocking twins; everything else is derived by ``recorded``: the call's arguments (but
``update_id``) become the arguments of the operation of the method's name
(``store/_operations``, the one description of every record write), the outbox's ``_write``
records and sends them, and its answer is validated as the method's return type. A test checks
that each signature's parameters are its operation's fields and ``update_id``, so the two
cannot drift apart.
"""

from __future__ import annotations

import functools
import inspect
import typing
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from pydantic import TypeAdapter

from ..services import plain
from ..services.records import RecordUpdate
from ..store import Operation
from ..types import DeletedRecord, Record

P = ParamSpec("P")
T = TypeVar("T")

_RAISES = """

Raises:
    OfflineError: the backend could not be reached; the write is kept (``entry_id``).
    OutboxWriteError: the write could not be recorded, and was not sent.
"""
_CONFLICT = """    ConflictError: the record is not at ``expected_version`` (the entry failed).
"""
_REFUSED = """    ServiceError: the backend refused it (the entry is marked failed).
"""


class _Signatures(Protocol):
    """The outbox's writes as their callers see them (bodies come from ``recorded``)."""

    async def create_record(
        self,
        table_id: str,
        fields: Mapping[str, Any],
        *,
        typecast: bool | None = None,
        update_id: str | None = None,
    ) -> Record:
        """Record, then send, a record creation; the created record."""

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
        """

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
        """

    async def delete_record(
        self,
        record_id: str,
        *,
        expected_version: int | None = None,
        table_id: str | None = None,
        update_id: str | None = None,
    ) -> None:
        """Record, then send, a record deletion; ``table_id`` is as for ``update_record``."""

    async def create_records(
        self,
        table_id: str,
        records: Sequence[Mapping[str, Any]],
        *,
        typecast: bool | None = None,
        update_id: str | None = None,
    ) -> list[Record]:
        """Record, then send, a batch creation (all or none); the created records."""

    async def update_records(
        self,
        table_id: str,
        records: Sequence[RecordUpdate],
        *,
        typecast: bool | None = None,
        update_id: str | None = None,
    ) -> list[Record]:
        """Record, then send, a batch merge (all or none); the records after it."""

    async def delete_records(
        self, table_id: str, record_ids: Sequence[str], *, update_id: str | None = None
    ) -> list[DeletedRecord]:
        """Record, then send, a batch deletion (all or none); what was deleted."""


def recorded(
    signature: Callable[Concatenate[Any, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[RecordWrites, P], Coroutine[Any, Any, T]]:
    """The outbox write whose name, parameters and answer ``signature`` declares."""
    operation = typing.cast(Operation, signature.__name__)
    parameters = inspect.signature(signature)
    returned = typing.get_type_hints(signature)["return"]
    answer: TypeAdapter[Any] | None = None if returned is type(None) else TypeAdapter(returned)

    @functools.wraps(signature)
    async def write(outbox: RecordWrites, /, *args: P.args, **kwargs: P.kwargs) -> T:
        bound = parameters.bind(outbox, *args, **kwargs).arguments
        arguments = {
            name: plain(value)
            for name, value in list(bound.items())[1:]
            if name != "update_id" and value is not None
        }
        result = await outbox._write(operation, arguments, bound.get("update_id"))
        return typing.cast(T, None if answer is None else answer.validate_python(result))

    conflicts = "expected_version" in parameters.parameters
    write.__doc__ = (
        inspect.cleandoc(signature.__doc__ or "")
        + _RAISES
        + (
            _CONFLICT + _REFUSED.replace("refused it", "refused it otherwise")
            if conflicts
            else _REFUSED
        )
    )
    return write


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

    create_record = recorded(_Signatures.create_record)
    update_record = recorded(_Signatures.update_record)
    replace_record = recorded(_Signatures.replace_record)
    delete_record = recorded(_Signatures.delete_record)
    create_records = recorded(_Signatures.create_records)
    update_records = recorded(_Signatures.update_records)
    delete_records = recorded(_Signatures.delete_records)
