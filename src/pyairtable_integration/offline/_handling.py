"""What a failed send of an outbox entry means: keep it, fail it, or resolve a conflict; pure."""

from __future__ import annotations

from typing import Literal

from .._errors import (
    APIConnectionError,
    AuthenticationError,
    CircuitOpenError,
    ConflictError,
    RateLimitedError,
    ServerError,
    ServiceError,
    ServiceUnavailableError,
)

Handling = Literal["keep", "fail", "conflict"]


def handling(error: ServiceError, *, caller_waits: bool) -> Handling:
    """What a failed send means for its entry: ``keep`` it for later, ``fail`` it, or resolve
    a ``conflict``.

    No answer and 503 always keep it. A writer waiting for its own entry hears every other
    error at once (the entry fails), and a conflict too; in a background replay, 401, 429 and
    other 5xx keep the entry (nobody is there to tell; they pass), a conflict goes to the
    strategy, and the remaining 4xx fail it.
    """
    if isinstance(error, APIConnectionError | ServiceUnavailableError):
        return "keep"
    if caller_waits:
        return "fail"
    if isinstance(error, ConflictError):
        return "conflict"
    if isinstance(error, AuthenticationError | RateLimitedError | ServerError):
        return "keep"
    return "fail"


def retry_hint(error: ServiceError) -> float:
    """The wait the error itself asks for before trying again (0 when it asks none)."""
    if isinstance(error, CircuitOpenError):
        return error.retry_in
    if isinstance(error, RateLimitedError | ServiceUnavailableError):
        return error.retry_after or 0.0
    return 0.0
