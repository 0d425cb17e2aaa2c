"""One record write, whatever path it takes: ``RecordMutation``, and its state as a reducer.

A ``RecordMutation`` is the write (one of the outbox operations, ``OutboxOperation``: the one
description of every record write) and how it behaves: ``optimistic`` (shown before the server
confirms it), ``durable`` (recorded in the outbox first, so it survives the network and the
process going away), ``ordered`` (sent only after the earlier writes of its records ended)
and ``on_conflict`` (the one ``ConflictStrategy``). ``pa.mutate`` runs ``optimistic`` writes
at once (overlapping edits of one record meet as conflicts, resolved by the strategy);
``pa.offline`` runs ``durable``, ``ordered`` ones; the ``MutationCache`` holds them all.

A mutation's state moves by pure actions (``reduce_mutation``): ``Started``, ``Paused`` (a
durable write waits in the outbox for the backend), ``Succeeded``, ``Failed``, ``Reset``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Generic, Literal, TypeAlias, TypeVar

from .._errors import ServiceError
from ._conflict import ConflictStrategy
from ._operations import OutboxOperation

T = TypeVar("T")
MutationStatus = Literal["idle", "pending", "success", "error"]


@dataclass(frozen=True)
class RecordMutation:
    """A record write and how it behaves (see the module docstring).

    ``write`` is the write's description (``UpdateRecord(record_id=…, fields=…)``...).
    """

    write: OutboxOperation
    optimistic: bool = False
    durable: bool = False
    ordered: bool = False
    #: None: decided where the write is replayed (the outbox's ``on_conflict``).
    on_conflict: ConflictStrategy | None = None

    @property
    def operation(self) -> str:
        """The write's name (``update_record``...)."""
        return self.write.operation

    @property
    def records(self) -> tuple[str, ...]:
        """The existing records the write changes: the ones it is ordered by."""
        return self.write.records_touched()


@dataclass(frozen=True)
class MutationState(Generic[T]):
    """One snapshot of a mutation.

    ``status`` is ``idle`` before the first run, ``pending`` while it runs, then ``success``
    (``data`` is its result) or ``error`` (``error``). ``is_paused`` is True while the write
    waits in the offline outbox (still ``pending``: it is sent when the backend is back);
    ``is_optimistic`` while its change is shown before the server confirmed it.
    """

    status: MutationStatus = "idle"
    data: T | None = None
    error: ServiceError | None = None
    is_optimistic: bool = False
    is_paused: bool = False

    @property
    def is_pending(self) -> bool:
        """Whether a run is under way (or queued offline)."""
        return self.status == "pending"


@dataclass(frozen=True)
class Started:
    """A run began; ``optimistic``: its change is shown already."""

    optimistic: bool


@dataclass(frozen=True)
class Paused:
    """The write was kept in the outbox, to be sent when the backend answers."""


@dataclass(frozen=True)
class Succeeded:
    """The run ended with ``data`` (the server's answer)."""

    data: Any


@dataclass(frozen=True)
class Failed:
    """The run failed with ``error``; its optimistic change is gone."""

    error: ServiceError


@dataclass(frozen=True)
class Reset:
    """Back to idle (a form cleared after showing the outcome)."""


MutationAction: TypeAlias = Started | Paused | Succeeded | Failed | Reset


def reduce_mutation(state: MutationState[T], action: MutationAction) -> MutationState[T]:
    """The state after ``action``; ``state`` itself when nothing changed."""
    new: MutationState[T]
    if isinstance(action, Started):
        new = MutationState(status="pending", is_optimistic=action.optimistic)
    elif isinstance(action, Paused):
        new = replace(state, status="pending", is_paused=True, is_optimistic=True, error=None)
    elif isinstance(action, Succeeded):
        new = MutationState(status="success", data=action.data)
    elif isinstance(action, Failed):
        new = replace(
            state, status="error", error=action.error, is_optimistic=False, is_paused=False
        )
    else:
        new = MutationState()
    return state if new == state else new
