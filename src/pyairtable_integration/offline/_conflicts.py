"""What a replayed write does on a conflict (409): drop it, or send it anew.

The outbox decides by the store's one ``ConflictStrategy`` (``"server_wins"``, the default,
``"client_wins"``, ``"merge"``, or a ``Resolver``), applied to the entry's stored arguments and
the record as the backend holds it now (``ConflictError.current``): a resend goes against the
current version. The outbox has no base (the record as the user saw it), so ``merge`` treats
every field the server holds differently as changed there.

A callable of exactly two parameters, ``(entry, error)``, is the outbox's own hook instead: it
answers a ``ConflictResolution`` itself (it may be a coroutine, to ask a person).
``server_wins`` and ``client_wins`` here are the named strategies in that form.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from .._errors import ConflictError
from ..store import ConflictStrategy, resolve_conflict, resolve_delete_conflict
from ._store import OutboxEntry


@dataclass(frozen=True)
class ConflictResolution:
    """``drop``: forget the write (the server's state stands); ``resend``: send ``arguments``
    instead (with a new ``Idempotency-Key``), e.g. with ``expected_version`` moved on."""

    action: Literal["drop", "resend"]
    arguments: Mapping[str, Any] | None = None

    @classmethod
    def drop(cls) -> ConflictResolution:
        """Forget the write; the server's state stands."""
        return cls("drop")

    @classmethod
    def resend(cls, arguments: Mapping[str, Any]) -> ConflictResolution:
        """Send ``arguments`` in place of the entry's."""
        return cls("resend", dict(arguments))


#: The outbox's own hook: ``(entry, error) -> ConflictResolution`` (or an awaitable of one).
EntryResolver: TypeAlias = Callable[
    [OutboxEntry, ConflictError], ConflictResolution | Awaitable[ConflictResolution]
]
#: What ``pa.offline.on_conflict`` accepts.
OutboxConflictStrategy: TypeAlias = ConflictStrategy | EntryResolver


def resolve_entry(
    strategy: ConflictStrategy, entry: OutboxEntry, error: ConflictError
) -> ConflictResolution:
    """Decide a conflict on a replayed entry by ``strategy``: drop it, or resend its write
    (with the resolved fields) against the record's current version.

    A write sent without ``expected_version`` (the batch forms among them), or a conflict that
    does not say what the current version is, has nothing to resend against: it is dropped.

    Raises:
        ValueError: ``strategy`` is neither a known name nor callable.
    """
    current = error.current or {}
    version = current.get("version")
    arguments = entry.arguments
    if entry.operation == "delete_record":
        resolution = resolve_delete_conflict(strategy)
        fields = None
    else:
        local = arguments.get("fields")
        if not isinstance(local, Mapping):
            return ConflictResolution.drop()
        resolution = resolve_conflict(strategy, local, None, current.get("fields") or {})
        fields = resolution.fields
    if (
        resolution.action != "resend"
        or not isinstance(version, int)
        or "expected_version" not in arguments
    ):
        return ConflictResolution.drop()
    resent = {**arguments, "expected_version": version}
    if fields is not None:
        resent["fields"] = fields
    return ConflictResolution.resend(resent)


def is_entry_resolver(strategy: OutboxConflictStrategy) -> bool:
    """Whether ``strategy`` is the outbox's own two-parameter hook (not a ``Resolver``)."""
    if isinstance(strategy, str) or not callable(strategy):
        return False
    try:
        parameters = inspect.signature(strategy).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [
        parameter
        for parameter in parameters
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)
    ]
    return len(positional) == 2


def server_wins(entry: OutboxEntry, error: ConflictError) -> ConflictResolution:
    """Drop the conflicting write: the change someone else made stands (the default)."""
    return resolve_entry("server_wins", entry, error)


def client_wins(entry: OutboxEntry, error: ConflictError) -> ConflictResolution:
    """Send the write again against the record's current version, overwriting the other
    change; dropped when the conflict does not say what the current version is."""
    return resolve_entry("client_wins", entry, error)
