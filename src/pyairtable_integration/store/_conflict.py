"""Resolving a write conflict (a 409 on ``If-Match``): the one ``ConflictStrategy``; pure.

Every record write that can conflict decides by it: ``pa.mutate`` (and the live mutations and
UI hooks over it) while the caller waits, and the offline outbox (``pa.offline.on_conflict``)
when it replays a write later. Each resends at most ``MAX_CONFLICT_ROUNDS`` times in a row.

Three inputs describe a conflict: the *local change* (the fields this client wrote), the *base*
(the record's fields as the user saw them when editing) and *current* (the fields the server
holds now, from ``ConflictError.current``). A strategy turns them into a ``Resolution``: adopt
the server's record, or resend a set of fields with ``If-Match`` set to the current version.

- ``server_wins``: drop the local change and adopt the server's record.
- ``client_wins``: resend the local change over whatever the server holds.
- ``merge``: the fields the server changed since the base are found by comparing base and
  current; when the local change touches none of them (or set them to the same values), the
  local change is resent on top of the server's record. When both changed one field differently,
  the ``resolver`` decides; without one the server wins and the conflicting fields are reported.
- a custom callable ``(local_change, base, current) -> fields | None``: its fields are resent,
  None adopts the server's record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

#: ``(local_change, base, current) -> fields to resend``, or None to adopt the server's record.
Resolver: TypeAlias = Callable[
    [Mapping[str, Any], Mapping[str, Any] | None, Mapping[str, Any]], Mapping[str, Any] | None
]
StrategyName: TypeAlias = Literal["server_wins", "client_wins", "merge"]
ConflictStrategy: TypeAlias = StrategyName | Resolver
STRATEGIES: tuple[StrategyName, ...] = ("server_wins", "client_wins", "merge")
#: How many conflicts in a row one write resolves before giving up with ``ConflictError``.
MAX_CONFLICT_ROUNDS = 3

# A field the base does not name but current does is a change too; this marks "absent".
_ABSENT = object()


@dataclass(frozen=True)
class Resolution:
    """What to do about a conflict.

    ``action`` is ``"resend"`` (send ``fields`` again with ``If-Match`` = the current version)
    or ``"adopt_server"`` (drop the local change). ``decided_by`` names the rule that decided
    (``server_wins``, ``client_wins``, ``merge``, ``resolver``, ``custom``); ``conflicting``
    holds the fields both sides changed to different values (what ``merge`` could not combine).
    """

    action: Literal["resend", "adopt_server"]
    decided_by: str
    fields: dict[str, Any] = field(default_factory=dict)
    conflicting: frozenset[str] = frozenset()


def server_changes(base: Mapping[str, Any] | None, current: Mapping[str, Any]) -> dict[str, Any]:
    """The fields whose value differs between ``base`` and ``current``, with current's values.

    A field removed on the server maps to None. Without a base every field of ``current`` is
    taken as changed (nothing says otherwise).
    """
    if base is None:
        return dict(current)
    changed = {name: value for name, value in current.items() if base.get(name, _ABSENT) != value}
    changed.update({name: None for name in base if name not in current})
    return changed


def conflicting_fields(
    local_change: Mapping[str, Any], base: Mapping[str, Any] | None, current: Mapping[str, Any]
) -> frozenset[str]:
    """The fields the local change sets that the server also changed, to a different value."""
    changed = server_changes(base, current)
    return frozenset(
        name for name, value in local_change.items() if name in changed and changed[name] != value
    )


def resolve_conflict(
    strategy: ConflictStrategy,
    local_change: Mapping[str, Any],
    base: Mapping[str, Any] | None,
    current: Mapping[str, Any],
    *,
    resolver: Resolver | None = None,
) -> Resolution:
    """Decide a conflict on a field update by ``strategy`` (see the module docstring).

    ``resolver`` is only asked by ``merge``, when both sides changed one field differently.

    Raises:
        ValueError: ``strategy`` is neither a known name nor callable.
    """
    if callable(strategy):
        return _from_callable(strategy, "custom", local_change, base, current)
    if strategy == "server_wins":
        return Resolution("adopt_server", "server_wins")
    if strategy == "client_wins":
        return Resolution("resend", "client_wins", dict(local_change))
    if strategy == "merge":
        conflicting = conflicting_fields(local_change, base, current)
        if not conflicting:
            return Resolution("resend", "merge", dict(local_change))
        if resolver is not None:
            resolution = _from_callable(resolver, "resolver", local_change, base, current)
            return Resolution(
                resolution.action, resolution.decided_by, resolution.fields, conflicting
            )
        return Resolution("adopt_server", "server_wins", conflicting=conflicting)
    raise ValueError(
        f"Unknown conflict strategy {strategy!r}; use one of {STRATEGIES} or a callable."
    )


def resolve_delete_conflict(strategy: ConflictStrategy) -> Resolution:
    """Decide a conflict on a delete: only ``client_wins`` deletes the changed record anyway.

    A delete has no fields to combine, and deleting a record someone changed after the user last
    saw it would discard their change unseen, so every other strategy keeps the server's record.

    Raises:
        ValueError: ``strategy`` is neither a known name nor callable.
    """
    if strategy == "client_wins":
        return Resolution("resend", "client_wins")
    if callable(strategy):
        return Resolution("adopt_server", "custom")
    if strategy in STRATEGIES:
        return Resolution("adopt_server", "server_wins")
    raise ValueError(
        f"Unknown conflict strategy {strategy!r}; use one of {STRATEGIES} or a callable."
    )


def _from_callable(
    decide: Resolver,
    name: str,
    local_change: Mapping[str, Any],
    base: Mapping[str, Any] | None,
    current: Mapping[str, Any],
) -> Resolution:
    fields = decide(dict(local_change), None if base is None else dict(base), dict(current))
    if fields is None:
        return Resolution("adopt_server", name)
    return Resolution("resend", name, dict(fields))
