"""Record writes that get no answer are handed to a parking place (the offline outbox).

With offline support on, a write through ``pa.services.record`` that gets no answer (no
connection, a timeout, an open breaker) is recorded durably in the outbox, with the same
``Idempotency-Key`` it was sent with, and the caller gets ``OfflineError`` naming the entry: it
is sent again, once, when the backend answers. The services never import the outbox; the
integration gives the record service anything with ``park``.
"""

from __future__ import annotations

import functools
import inspect
import uuid
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from .._errors import APIConnectionError, OfflineError

P = ParamSpec("P")
T = TypeVar("T")


class Parking(Protocol):
    """Where a record write that got no answer is kept to be sent later."""

    async def park(
        self,
        operation: str,
        arguments: Mapping[str, Any],
        idempotency_key: str,
        cause: APIConnectionError,
    ) -> OfflineError | None:
        """Record the write durably; the error to raise, or None when it cannot be kept
        (offline support off, nobody signed in): the original failure is raised then.

        Raises:
            OutboxWriteError: recording failed (the write is then neither sent nor kept).
        """
        ...


class _HasParking(Protocol):
    parking: Parking | None


S = TypeVar("S", bound=_HasParking)


_Method = Callable[Concatenate[S, P], Coroutine[Any, Any, T]]


def parks(operation: str) -> Callable[[_Method[S, P, T]], _Method[S, P, T]]:
    """Make a record write method hand itself to the service's ``parking`` when unanswered.

    The method's own parameters (but ``idempotency_key``) are the outbox operation's
    arguments, so they must have the outbox's names. A key is made here when the caller gave
    none, so the kept write carries the key its lost attempt was sent with.
    """

    def decorate(method: _Method[S, P, T]) -> _Method[S, P, T]:
        signature = inspect.signature(method)

        @functools.wraps(method)
        async def write(service: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
            parking = service.parking
            if parking is None:
                return await method(service, *args, **kwargs)
            bound = signature.bind(service, *args, **kwargs)
            key = bound.arguments.get("idempotency_key") or uuid.uuid4().hex
            bound.arguments["idempotency_key"] = key
            try:
                return await method(*bound.args, **bound.kwargs)
            except APIConnectionError as exc:
                arguments = {
                    name: plain(value)
                    for name, value in bound.arguments.items()
                    if name not in {"self", "idempotency_key"} and value is not None
                }
                error = await parking.park(operation, arguments, key, exc)
                if error is None:
                    raise
                raise error from exc

        return write

    return decorate


def plain(value: Any) -> Any:
    """``value`` with every mapping and sequence in it a plain dict or list (JSON-ready)."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value
