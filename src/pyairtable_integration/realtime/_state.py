"""The realtime connection's state and its transport ladder: pure data and decisions, no I/O.

The ladder is WebSocket, then Server-Sent Events (when enabled), then polling the event log.
A transport that fails ``failures_to_fall`` times in a row without ever going live hands over to
the next one down; while below WebSocket, a probe tries WebSocket again with backoff, and its
success moves the connection straight back to the top.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

Status = Literal["connecting", "connected", "reconnecting", "fallback", "offline", "closed"]
TransportKind = Literal["websocket", "sse", "polling"]
LADDER: tuple[TransportKind, ...] = ("websocket", "sse", "polling")
#: Failures in a row on one transport before stepping down the ladder.
DEFAULT_FAILURES_TO_FALL = 2


@dataclass(frozen=True)
class RealtimeState:
    """What the realtime connection is doing now.

    ``transport`` is the transport in use or being tried (None when closed); ``attempt`` counts
    failed attempts since the last time a transport was live; ``error`` says what failed last.
    """

    status: Status = "closed"
    transport: TransportKind | None = None
    attempt: int = 0
    error: str | None = None

    @property
    def live(self) -> bool:
        """Whether events are flowing (on WebSocket or on a fallback)."""
        return self.status in ("connected", "fallback")


@dataclass
class Ladder:
    """Which transport to use next, from the outcomes of the previous attempts."""

    sse_enabled: bool = True
    failures_to_fall: int = DEFAULT_FAILURES_TO_FALL
    current: TransportKind = "websocket"
    failures: int = 0
    #: Failed attempts since the last live connection, whatever the transport (for backoff).
    attempt: int = 0
    ever_live: bool = False
    _steps: tuple[TransportKind, ...] = field(default=LADDER, repr=False)

    def __post_init__(self) -> None:
        self._steps = LADDER if self.sse_enabled else ("websocket", "polling")

    def live(self) -> None:
        """The current transport delivers events."""
        self.failures = 0
        self.attempt = 0
        self.ever_live = True

    def failed(self) -> TransportKind:
        """The current transport failed; the transport to try next."""
        self.failures += 1
        self.attempt += 1
        index = self._steps.index(self.current)
        if self.failures >= self.failures_to_fall and index + 1 < len(self._steps):
            self.current = self._steps[index + 1]
            self.failures = 0
        return self.current

    def back_to_top(self) -> None:
        """A WebSocket probe succeeded: use WebSocket again."""
        self.current = "websocket"
        self.failures = 0

    @property
    def in_fallback(self) -> bool:
        return self.current != "websocket"


def state_after_failure(ladder: Ladder, error: str) -> RealtimeState:
    """The state to show while waiting to retry after a failure."""
    if ladder.current == "polling" and ladder.failures > 0:
        status: Status = "offline"
    elif ladder.in_fallback or ladder.ever_live:
        status = "reconnecting"
    else:
        status = "connecting"
    return RealtimeState(status, ladder.current, ladder.attempt, error)


def state_when_live(ladder: Ladder) -> RealtimeState:
    """The state once the current transport delivers events."""
    status: Status = "fallback" if ladder.in_fallback else "connected"
    return RealtimeState(status, ladder.current)


def state_when_trying(ladder: Ladder, previous: RealtimeState) -> RealtimeState:
    """The state while an attempt on the current transport is under way."""
    if previous.status == "offline":
        return replace(previous, transport=ladder.current)
    status: Status = "reconnecting" if ladder.ever_live or ladder.attempt else "connecting"
    return RealtimeState(status, ladder.current, ladder.attempt, previous.error)
