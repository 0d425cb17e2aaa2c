"""Outbox entries shown in the record cache as optimistic layers until they are sent.

Each unsent entry of the signed-in user is shown through ``pa.optimistic``, one layer per record
it writes: a create under a temporary id (``tmp_…``), an update merged over the record, a
replacement with the fields it drops emptied, a delete hiding the record. A layer is confirmed
with the backend's answer when its entry is sent, rolled back when the entry fails, and on a
conflict the server's record is adopted (or, when the write is sent anew, the layer shows the
new change over it). Layers live in memory only: the outbox applies them again from its file when
it opens (after a restart) and when their user signs in again.

A single-record change records the record's table (``table_id``, not sent) when the cache
holds the record, so that after a restart its layer waits over the empty cache and shows as soon
as the record is read again. Without a table (a record never held, no ``table_id`` given) it has
nothing to be shown over and is sent without a layer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from .._errors import ConflictError, ServiceError
from ..optimistic import OptimisticManager, PendingUpdate, Resolution
from ..store import OutboxEntry
from ..types import Record

_SINGLE_CHANGES = frozenset({"update_record", "replace_record", "delete_record"})


class OutboxDisplay:
    """The optimistic layers of outbox entries: applied, then confirmed or undone with them."""

    def __init__(self, manager: OptimisticManager) -> None:
        self.manager = manager
        # Entry id -> its layers' update ids, in the order of the records the entry writes.
        self._layers: dict[str, tuple[str, ...]] = {}

    def __repr__(self) -> str:
        return f"OutboxDisplay(entries={len(self._layers)})"

    def shown(self, entry_id: str) -> bool:
        """Whether the entry's layers are applied (an entry with nothing to show counts)."""
        return entry_id in self._layers

    def update_ids(self, entry_id: str) -> tuple[str, ...]:
        """The update ids of the entry's layers (empty when none)."""
        return self._layers.get(entry_id, ())

    def with_table(self, operation: str, arguments: Mapping[str, Any]) -> Mapping[str, Any]:
        """``arguments`` of a single-record change with the record's table added when the
        cache knows it, so the entry can be shown again after a restart (an empty cache)."""
        if operation not in _SINGLE_CHANGES or "table_id" in arguments:
            return arguments
        target = self.manager.target
        view = None if target is None else target.get(str(arguments["record_id"]))
        return arguments if view is None else {**arguments, "table_id": view.table_id}

    async def show(
        self,
        entry_id: str,
        operation: str,
        arguments: Mapping[str, Any],
        *,
        update_id: str | None = None,
    ) -> tuple[str, ...]:
        """Apply the layers of one entry; their update ids.

        An ``update_id`` still pending in the manager is the caller's own layer for this write:
        it is adopted instead of adding a second one.
        """
        if update_id is not None and self._pending(update_id) is not None:
            layers: tuple[str, ...] = (update_id,)
        else:
            layers = tuple(await self._apply(operation, arguments))
        self._layers[entry_id] = layers
        return layers

    def link(self, entry_id: str) -> str | None:
        """The one update id that stands for the entry (a single-record write), else None."""
        layers = self._layers.get(entry_id, ())
        return layers[0] if len(layers) == 1 else None

    def confirm(self, entry: OutboxEntry, result: Any) -> None:
        """The entry was sent: each layer adopts the backend's answer for its record."""
        layers = self._layers.pop(entry.id, ())
        answers = _answers(entry.operation, result)
        by_id = {record.id: record for record in answers if record is not None}
        for index, update_id in enumerate(layers):
            update = self._pending(update_id)
            if update is None:
                continue
            actual: Record | None
            if update.kind == "create":
                actual = answers[index] if index < len(answers) else None
            elif update.kind == "delete":
                actual = None
            else:
                actual = by_id.get(update.record_id)
            self.manager.confirm_update(update_id, actual)

    def reject(self, entry: OutboxEntry, error: ServiceError, *, decided_by: str) -> None:
        """The entry failed or was dropped: its layers go; on a conflict the server's record
        is adopted for the record it names."""
        current = _current(error)
        for update_id in self._layers.pop(entry.id, ()):
            update = self._pending(update_id)
            if update is None:
                continue
            if (
                current is not None
                and isinstance(error, ConflictError)
                and update.record_id == current.id
            ):
                self.manager.report_conflict(
                    update_id, error, Resolution("adopt_server", decided_by), current
                )
            else:
                self.manager.rollback_update(update_id, error)

    def restate(
        self,
        entry: OutboxEntry,
        arguments: Mapping[str, Any],
        error: ConflictError,
        *,
        decided_by: str,
    ) -> None:
        """A conflict was resolved by sending ``arguments`` instead: the layer now shows that
        change over the server's current record."""
        current = _current(error)
        update_id = self.link(entry.id)
        if current is None or update_id is None or self._pending(update_id) is None:
            return
        fields = arguments.get("fields")
        if entry.operation == "replace_record" and isinstance(fields, Mapping):
            fields = _replacement(current, fields)
        change = dict(fields) if isinstance(fields, Mapping) else {}
        self.manager.report_conflict(
            update_id,
            error,
            Resolution("resend", decided_by, change),
            current,
            fields=change if entry.operation != "delete_record" else None,
        )

    def hide(self, entry_ids: Iterable[str], error: BaseException | None = None) -> None:
        """Roll back the layers of these entries (their user signed out, or display stopped)."""
        for entry_id in list(entry_ids):
            for update_id in self._layers.pop(entry_id, ()):
                if self._pending(update_id) is not None:
                    self.manager.rollback_update(update_id, error)

    def entries(self) -> list[str]:
        """The ids of the entries whose layers are applied."""
        return list(self._layers)

    async def _apply(self, operation: str, arguments: Mapping[str, Any]) -> list[str]:
        manager = self.manager
        if operation == "create_record":
            update_id, _ = await manager.optimistic_create_record(
                arguments["table_id"], arguments["fields"]
            )
            return [update_id]
        if operation == "create_records":
            return [
                (await manager.optimistic_create_record(arguments["table_id"], fields))[0]
                for fields in arguments["records"]
            ]
        if operation in {"update_record", "replace_record"}:
            record_id = str(arguments["record_id"])
            table_id = arguments.get("table_id")
            view = None if manager.target is None else manager.target.get(record_id)
            if view is None and table_id is None:
                return []  # not held, and the entry does not name its table
            fields = arguments["fields"]
            if operation == "replace_record" and view is not None:
                fields = _replacement(view, fields)
            update_id, _ = await manager.optimistic_update_record(
                record_id, fields, table_id=table_id
            )
            return [update_id]
        if operation == "update_records":
            table_id = str(arguments["table_id"])
            return [
                (
                    await manager.optimistic_update_record(
                        str(item["id"]), item["fields"], table_id=table_id
                    )
                )[0]
                for item in arguments["records"]
            ]
        if operation == "delete_record":
            return await _each(
                [str(arguments["record_id"])], self._delete(arguments.get("table_id"))
            )
        if operation == "delete_records":
            return await _each(
                [str(item) for item in arguments["record_ids"]],
                self._delete(str(arguments["table_id"])),
            )
        return []

    def _delete(self, table_id: str | None) -> Callable[[str], Awaitable[str | None]]:
        async def delete(record_id: str) -> str | None:
            try:
                return await self.manager.optimistic_delete_record(record_id, table_id=table_id)
            except LookupError:
                return None  # not held, and the entry does not name its table

        return delete

    def _pending(self, update_id: str) -> PendingUpdate | None:
        try:
            return self.manager.get_pending_update(update_id)
        except KeyError:
            return None


async def _each(record_ids: list[str], apply: Callable[[str], Awaitable[str | None]]) -> list[str]:
    applied = [await apply(record_id) for record_id in record_ids]
    return [update_id for update_id in applied if update_id is not None]


def _replacement(view: Record, fields: Mapping[str, Any]) -> dict[str, Any]:
    """A replacement as a merge: the fields it does not name are emptied."""
    return {**{name: None for name in view.fields if name not in fields}, **fields}


def _answers(operation: str, result: Any) -> list[Record | None]:
    if operation in {"create_record", "update_record", "replace_record"}:
        return [Record.model_validate(result)]
    if operation in {"create_records", "update_records"}:
        return [Record.model_validate(item) for item in result]
    return []


def _current(error: ServiceError) -> Record | None:
    if not isinstance(error, ConflictError) or error.current is None:
        return None
    try:
        return Record.model_validate(error.current)
    except ValueError:
        return None  # a 409 about something other than a record
