"""``pa.mutate``: optimistic apply, send, and confirm or roll back, in one call per write.

Each call generates one ``Idempotency-Key`` for the logical write; the transport reuses it on
every retry, so a write whose answer was lost is applied once. Updates and deletes send
``If-Match`` with the version the user saw; a 409 is resolved by the call's conflict strategy
(``_conflict``) and the resolved change is resent with ``If-Match`` set to the server's version,
under a key derived from the first (``<key>.1``, ``<key>.2``...): a resend carries another
version and maybe other fields, so it is a new logical write, retried safely under its own key.
When the write finally fails, the optimistic change is rolled back and the error raised.

Each call is one ``RecordMutation`` (``optimistic`` when shown first) that takes its turn in the
``MutationCache``: it is sent at once (overlapping edits of one record meet as conflicts, which
the strategy resolves), unless it starts while the backend is believed unreachable: then it
waits, paused, until the backend answers again.

With optimistic updates switched off (``enable_optimistic_updates`` or
``features.enable_optimistic_updates`` false), or without a record cache to show changes in,
the calls only send (still with ``If-Match`` and conflict resolution).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._errors import ConflictError
from ..services.records import RecordService
from ..store import (
    MAX_CONFLICT_ROUNDS,
    ConflictStrategy,
    MutationCache,
    RecordMutation,
    Resolution,
    Resolver,
    parse_operation,
    resolve_conflict,
    resolve_delete_conflict,
)
from ..types import Record
from ._manager import OptimisticManager, is_temporary_id

DEFAULT_STRATEGY: ConflictStrategy = "merge"


@dataclass(frozen=True)
class MutationResult:
    """How a write ended.

    ``record`` is the server's record after it (None after a delete). ``applied`` is False when
    a conflict was resolved in the server's favour (the local change was dropped and ``record``
    is what the server holds). ``resolution`` is the last conflict's resolution, None when there
    was no conflict. ``update_id`` names the optimistic update (None when nothing was shown
    optimistically).
    """

    record: Record | None
    applied: bool
    update_id: str | None
    resolution: Resolution | None = None


class Mutations:
    """Record writes that show at once and reconcile with the server (see the module docstring)."""

    def __init__(
        self,
        records: RecordService,
        optimistic: OptimisticManager,
        *,
        enabled: bool = True,
        strategy: ConflictStrategy = DEFAULT_STRATEGY,
        mutations: MutationCache | None = None,
    ) -> None:
        self._records = records
        self._optimistic = optimistic
        self._enabled = enabled
        self._strategy = strategy
        self._mutations = mutations

    def __repr__(self) -> str:
        return f"Mutations(optimistic={self.optimistic_enabled})"

    @property
    def optimistic_enabled(self) -> bool:
        """Whether writes are shown before the server confirms them."""
        return self._enabled and self._optimistic.target is not None

    async def create_record(
        self, table_id: str, fields: Mapping[str, Any], *, typecast: bool | None = None
    ) -> MutationResult:
        """Create a record: shown at once under a temporary id, replaced by the server's.

        Raises:
            ServiceError: the write failed (after the transport's retries); the optimistic
                record was removed.
        """
        update_id: str | None = None
        if self.optimistic_enabled:
            update_id, _ = await self._optimistic.optimistic_create_record(table_id, fields)
        mutation = self._mutation(
            "create_record",
            {"table_id": table_id, "fields": fields, "typecast": typecast},
            update_id,
        )
        try:
            async with self._turn(mutation):
                record = await self._records.create_record(
                    table_id, fields, typecast=typecast, idempotency_key=_new_key()
                )
        except BaseException as exc:
            if update_id is not None:
                self._optimistic.rollback_update(update_id, exc)
            raise
        if update_id is not None:
            self._optimistic.confirm_update(update_id, record)
        return MutationResult(record, True, update_id)

    async def update_record(
        self,
        record_id: str,
        fields: Mapping[str, Any],
        *,
        table_id: str | None = None,
        strategy: ConflictStrategy | None = None,
        resolver: Resolver | None = None,
        expected_version: int | None = None,
        typecast: bool | None = None,
    ) -> MutationResult:
        """Merge ``fields`` into a record: shown at once, sent with ``If-Match``, reconciled.

        The version sent is ``expected_version``, else the version of the record the cache
        shows (the one the user saw); with neither the write is sent without ``If-Match``.
        ``strategy`` (``"merge"`` unless the integration says otherwise) decides a 409;
        ``resolver`` is what ``merge`` asks when both sides changed one field differently.

        Raises:
            ValueError: ``record_id`` is a temporary id (its create is not confirmed yet).
            ConflictError: the record kept changing through ``MAX_CONFLICT_ROUNDS`` resends.
            ServiceError: the write failed (after the transport's retries); the optimistic
                change was rolled back, other pending changes stay.
        """
        _refuse_temporary(record_id)
        update_id, base = await self._show_update(record_id, fields, table_id)
        mutation = self._mutation(
            "update_record",
            {"record_id": record_id, "fields": fields, "typecast": typecast},
            update_id,
            strategy,
        )
        try:
            async with self._turn(mutation):
                version = expected_version if expected_version is not None else _version(base)
                return await self._send_update(
                    record_id,
                    dict(fields),
                    None if base is None else base.fields,
                    version,
                    typecast=typecast,
                    update_id=update_id,
                    strategy=strategy or self._strategy,
                    resolver=resolver,
                )
        except BaseException as exc:
            self._roll_back(update_id, exc)
            raise

    async def _send_update(
        self,
        record_id: str,
        change: dict[str, Any],
        base_fields: Mapping[str, Any] | None,
        version: int | None,
        *,
        typecast: bool | None,
        update_id: str | None,
        strategy: ConflictStrategy,
        resolver: Resolver | None,
    ) -> MutationResult:
        key = _new_key()
        resolution: Resolution | None = None
        for round_ in range(MAX_CONFLICT_ROUNDS + 1):
            try:
                record = await self._records.update_record(
                    record_id,
                    change,
                    typecast=typecast,
                    expected_version=version,
                    idempotency_key=_round_key(key, round_),
                )
            except ConflictError as exc:
                if round_ == MAX_CONFLICT_ROUNDS:
                    raise
                current = _current(exc)
                resolution = resolve_conflict(
                    strategy, change, base_fields, current.fields, resolver=resolver
                )
                if update_id is not None:
                    self._optimistic.report_conflict(
                        update_id, exc, resolution, current, fields=resolution.fields
                    )
                if resolution.action == "adopt_server":
                    return MutationResult(current, False, update_id, resolution)
                change, base_fields, version = resolution.fields, current.fields, current.version
            else:
                if update_id is not None:
                    self._optimistic.confirm_update(update_id, record)
                return MutationResult(record, True, update_id, resolution)
        raise AssertionError("unreachable: the last round returns or raises")

    async def delete_record(
        self,
        record_id: str,
        *,
        table_id: str | None = None,
        strategy: ConflictStrategy | None = None,
        expected_version: int | None = None,
    ) -> MutationResult:
        """Delete a record: hidden at once, sent with ``If-Match``, reconciled.

        On a 409 only ``client_wins`` deletes anyway; every other strategy keeps the record as
        the server has it (``applied`` False), since deleting would discard a change the user
        never saw.

        Raises:
            ValueError: ``record_id`` is a temporary id (its create is not confirmed yet).
            ConflictError: the record kept changing through ``MAX_CONFLICT_ROUNDS`` resends.
            ServiceError: the delete failed (after the transport's retries); the record is
                shown again.
        """
        _refuse_temporary(record_id)
        update_id: str | None = None
        base: Record | None = None
        target = self._optimistic.target
        if target is not None:
            base = target.get(record_id)
            if self.optimistic_enabled and (base is not None or table_id is not None):
                update_id = await self._optimistic.optimistic_delete_record(
                    record_id, table_id=table_id
                )
        mutation = self._mutation("delete_record", {"record_id": record_id}, update_id, strategy)
        try:
            async with self._turn(mutation):
                version = expected_version if expected_version is not None else _version(base)
                return await self._send_delete(
                    record_id, version, update_id=update_id, strategy=strategy or self._strategy
                )
        except BaseException as exc:
            self._roll_back(update_id, exc)
            raise

    async def _send_delete(
        self,
        record_id: str,
        version: int | None,
        *,
        update_id: str | None,
        strategy: ConflictStrategy,
    ) -> MutationResult:
        key = _new_key()
        resolution: Resolution | None = None
        for round_ in range(MAX_CONFLICT_ROUNDS + 1):
            try:
                await self._records.delete_record(
                    record_id, expected_version=version, idempotency_key=_round_key(key, round_)
                )
            except ConflictError as exc:
                if round_ == MAX_CONFLICT_ROUNDS:
                    raise
                current = _current(exc)
                resolution = resolve_delete_conflict(strategy)
                if update_id is not None:
                    self._optimistic.report_conflict(update_id, exc, resolution, current)
                if resolution.action == "adopt_server":
                    return MutationResult(current, False, update_id, resolution)
                version = current.version
            else:
                if update_id is not None:
                    self._optimistic.confirm_update(update_id)
                return MutationResult(None, True, update_id, resolution)
        raise AssertionError("unreachable: the last round returns or raises")

    def _mutation(
        self,
        operation: str,
        arguments: Mapping[str, Any],
        update_id: str | None,
        strategy: ConflictStrategy | None = None,
    ) -> RecordMutation:
        """The one description of this write (``pa.mutate``: optimistic, not durable)."""
        return RecordMutation(
            parse_operation(
                operation,
                {
                    name: dict(value) if isinstance(value, Mapping) else value
                    for name, value in arguments.items()
                    if value is not None
                },
            ),
            optimistic=update_id is not None,
            on_conflict=self._strategy if strategy is None else strategy,
        )

    def _turn(self, mutation: RecordMutation) -> contextlib.AbstractAsyncContextManager[bool]:
        if self._mutations is None:
            no_turn: contextlib.AbstractAsyncContextManager[bool] = contextlib.nullcontext(False)
            return no_turn
        return self._mutations.turn(mutation)

    def _roll_back(self, update_id: str | None, error: BaseException) -> None:
        if update_id is not None and _is_pending(self._optimistic, update_id):
            self._optimistic.rollback_update(update_id, error)

    async def _show_update(
        self, record_id: str, fields: Mapping[str, Any], table_id: str | None
    ) -> tuple[str | None, Record | None]:
        target = self._optimistic.target
        if target is None:
            return None, None
        base = target.get(record_id)
        if not self.optimistic_enabled or (base is None and table_id is None):
            return None, base
        update_id, _ = await self._optimistic.optimistic_update_record(
            record_id, fields, table_id=table_id
        )
        return update_id, base


def _new_key() -> str:
    return uuid.uuid4().hex


def _round_key(key: str, round_: int) -> str:
    return key if round_ == 0 else f"{key}.{round_}"


def _version(record: Record | None) -> int | None:
    return None if record is None else record.version


def _current(error: ConflictError) -> Record:
    if error.current is None:
        raise error  # a 409 without the record as it is now: nothing to resolve with
    return Record.model_validate(error.current)


def _is_pending(manager: OptimisticManager, update_id: str) -> bool:
    return any(update.update_id == update_id for update in manager.get_pending_updates())


def _refuse_temporary(record_id: str) -> None:
    if is_temporary_id(record_id):
        raise ValueError(
            f"{record_id} is a temporary id; write to the record once its create is confirmed."
        )
