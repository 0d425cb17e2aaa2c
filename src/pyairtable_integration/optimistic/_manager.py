"""Pending optimistic updates: applied to the record overlay at once, then confirmed or undone.

Each update is one layer in the overlay (``OptimisticTarget``, the record cache), so several
updates pending on one record stack, and confirming or rolling back any of them, in any order,
leaves the view equal to the server's version with the remaining layers on top. The manager
keeps, per update, the *base* (the record as the user saw it before the change): its version is
the ``If-Match`` to send and its fields tell a merge which fields the server changed meanwhile.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal, TypeAlias

from .._clock import Clock
from .._errors import ConflictError
from .._subscribable import Listeners
from ..store import Resolution
from ..types import Record
from ._target import OptimisticTarget, UpdateKind

logger = logging.getLogger("pyairtable_integration.optimistic")

#: The prefix of the id a record created optimistically has until the server gives its own.
TEMPORARY_ID_PREFIX = "tmp_"

UpdateOutcome: TypeAlias = Literal["confirmed", "rolled_back", "conflict"]


@dataclass(frozen=True)
class PendingUpdate:
    """One optimistic update not yet confirmed or rolled back.

    ``fields`` is the local change (empty for a delete); ``base`` the record as the user saw it
    before the change (None for a create, or a record the overlay did not hold);
    ``optimistic`` the view right after the change was applied.
    """

    update_id: str
    kind: UpdateKind
    table_id: str
    record_id: str
    fields: dict[str, Any]
    base: Record | None
    optimistic: Record | None
    created_at: datetime

    @property
    def expected_version(self) -> int | None:
        """The version the user saw: the ``If-Match`` for sending this change."""
        return None if self.base is None else self.base.version


@dataclass(frozen=True)
class UpdateEvent:
    """What happened to an optimistic update, as listeners hear it.

    ``confirmed``: the server applied it (``record`` is its answer; None after a delete).
    ``rolled_back``: it was undone (``error`` says why, when known). ``conflict``: the server
    answered 409 and ``resolution`` says what was done about it (``error`` is the 409); a
    conflict resolved by resending is later followed by ``confirmed`` or ``rolled_back``, one
    the server won ends the update (``record`` is then the server's version).
    """

    outcome: UpdateOutcome
    update: PendingUpdate
    record: Record | None = None
    error: BaseException | None = None
    resolution: Resolution | None = None


UpdateListener: TypeAlias = Callable[[UpdateEvent], None]


def new_temporary_id() -> str:
    """A fresh temporary record id, ``tmp_<uuid>``."""
    return f"{TEMPORARY_ID_PREFIX}{uuid.uuid4().hex}"


def is_temporary_id(record_id: str) -> bool:
    """Whether ``record_id`` is a temporary id of a record created optimistically."""
    return record_id.startswith(TEMPORARY_ID_PREFIX)


class OptimisticManager:
    """``pa.optimistic``: create, update and delete records optimistically; confirm or roll back.

    The view changes at once through the overlay (``target``, the record cache); the caller
    sends the write and then calls ``confirm_update`` with the server's answer or
    ``rollback_update`` with the error. ``pa.mutate`` does all of it in one call.
    """

    def __init__(self, target: OptimisticTarget | None, *, clock: Clock) -> None:
        self._target = target
        self._clock = clock
        self._pending: dict[str, PendingUpdate] = {}
        # A listener is UI code; its failure must not leave the overlay half-updated or keep
        # the other listeners from hearing the outcome (``Listeners``' error policy).
        self._listeners: Listeners[UpdateEvent] = Listeners("optimistic update")

    def __repr__(self) -> str:
        return f"OptimisticManager(pending={len(self._pending)})"

    @property
    def target(self) -> OptimisticTarget | None:
        """The overlay the updates are applied to; None when there is no record cache."""
        return self._target

    async def optimistic_create_record(
        self, table_id: str, fields: Mapping[str, Any]
    ) -> tuple[str, Record | None]:
        """Show a new record at once under a temporary id ``tmp_<uuid>``; its update id and view.

        Raises:
            RuntimeError: there is no record cache to show it in.
        """
        return self._apply("create", table_id, new_temporary_id(), dict(fields), base=None)

    async def optimistic_update_record(
        self, record_id: str, fields: Mapping[str, Any], *, table_id: str | None = None
    ) -> tuple[str, Record | None]:
        """Show ``fields`` merged into a record at once; the update id and the record's view.

        ``table_id`` is needed only for a record the cache does not hold.

        Raises:
            RuntimeError: there is no record cache to show it in.
            LookupError: the cache does not hold the record and no ``table_id`` was given.
        """
        base = self._base(record_id)
        return self._apply(
            "update", self._table_of(record_id, base, table_id), record_id, dict(fields), base
        )

    async def optimistic_delete_record(self, record_id: str, *, table_id: str | None = None) -> str:
        """Hide a record at once; the update id.

        Raises:
            RuntimeError: there is no record cache to hide it in.
            LookupError: the cache does not hold the record and no ``table_id`` was given.
        """
        base = self._base(record_id)
        update_id, _ = self._apply(
            "delete", self._table_of(record_id, base, table_id), record_id, {}, base
        )
        return update_id

    def confirm_update(self, update_id: str, actual: Record | None = None) -> None:
        """The server applied the update: adopt ``actual`` (its answer) and drop the layer.

        For a create, ``actual`` replaces the temporary record (updates pending on it move to
        the real id); for a delete, the record is forgotten. Without ``actual`` an update just
        drops its layer.

        Raises:
            KeyError: no pending update has that id.
        """
        update = self._pending.pop(update_id)
        target = self._require_target()
        if update.kind == "create" and actual is not None:
            target.replace_id(update.record_id, actual)
            self._move_pending(update.record_id, actual.id)
        elif update.kind == "delete":
            target.remove_server(update.table_id, update.record_id)
        elif actual is not None:
            target.put_server(actual)
        target.drop_optimistic(update_id)
        self._listeners.emit(UpdateEvent("confirmed", update, record=actual))

    def rollback_update(self, update_id: str, error: BaseException | None = None) -> None:
        """Undo the update: drop its layer only, so the other pending updates stay shown.

        Rolling back a create also rolls back the updates pending on its temporary record
        (they can never be sent).

        Raises:
            KeyError: no pending update has that id.
        """
        update = self._pending.pop(update_id)
        self._require_target().drop_optimistic(update_id)
        self._listeners.emit(UpdateEvent("rolled_back", update, error=error))
        if update.kind == "create":
            for orphan in [u for u in self._pending.values() if u.record_id == update.record_id]:
                self.rollback_update(orphan.update_id, error)

    def report_conflict(
        self,
        update_id: str,
        error: ConflictError,
        resolution: Resolution,
        current: Record,
        *,
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        """Apply the outcome of a resolved conflict to the overlay and tell the listeners.

        The server's ``current`` record becomes the view's base. When the server won, the
        update ends (its layer dropped); otherwise its layer now shows ``fields`` (the change
        being resent), kept in place when they are the same as before.

        Raises:
            KeyError: no pending update has that id.
        """
        update = self._pending[update_id]
        target = self._require_target()
        target.put_server(current)
        if resolution.action == "adopt_server":
            del self._pending[update_id]
            target.drop_optimistic(update_id)
            self._listeners.emit(
                UpdateEvent("conflict", update, record=current, error=error, resolution=resolution)
            )
            return
        if fields is not None and dict(fields) != update.fields:
            target.drop_optimistic(update_id)
            view = target.apply_optimistic(
                update_id, update.table_id, update.record_id, update.kind, dict(fields)
            )
            update = replace(update, fields=dict(fields), optimistic=view)
        self._pending[update_id] = replace(update, base=current)
        self._listeners.emit(
            UpdateEvent("conflict", update, record=current, error=error, resolution=resolution)
        )

    def get_pending_updates(self) -> list[PendingUpdate]:
        """Every update not yet confirmed or rolled back, oldest first."""
        return list(self._pending.values())

    def get_pending_update(self, update_id: str) -> PendingUpdate:
        """One pending update.

        Raises:
            KeyError: no pending update has that id.
        """
        return self._pending[update_id]

    def on_update(self, callback: UpdateListener) -> Callable[[], None]:
        """Call ``callback`` with every confirm, rollback and conflict; returns an unsubscribe."""
        return self._listeners.subscribe(callback)

    def _apply(
        self,
        kind: UpdateKind,
        table_id: str,
        record_id: str,
        fields: dict[str, Any],
        base: Record | None,
    ) -> tuple[str, Record | None]:
        update_id = uuid.uuid4().hex
        view = self._require_target().apply_optimistic(
            update_id, table_id, record_id, kind, None if kind == "delete" else fields
        )
        self._pending[update_id] = PendingUpdate(
            update_id=update_id,
            kind=kind,
            table_id=table_id,
            record_id=record_id,
            fields=fields,
            base=base,
            optimistic=view,
            created_at=self._clock.now(),
        )
        return update_id, view

    def _base(self, record_id: str) -> Record | None:
        return self._require_target().get(record_id)

    def _table_of(self, record_id: str, base: Record | None, table_id: str | None) -> str:
        if table_id is not None:
            return table_id
        if base is not None:
            return base.table_id
        raise LookupError(
            f"Record {record_id} is not in the cache; pass table_id to change it optimistically."
        )

    def _move_pending(self, temp_id: str, real_id: str) -> None:
        for update_id, update in list(self._pending.items()):
            if update.record_id == temp_id:
                self._pending[update_id] = replace(update, record_id=real_id)

    def _require_target(self) -> OptimisticTarget:
        if self._target is None:
            raise RuntimeError(
                "Optimistic updates need the record cache; create the integration with "
                "enable_caching=True."
            )
        return self._target
