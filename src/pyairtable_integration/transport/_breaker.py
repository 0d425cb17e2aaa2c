"""A circuit breaker per backend service: closed, open after repeated failures, half-open probe.

Hand-written rather than taken from purgatory because the integration needs it on an injected
clock (tests move time instead of sleeping), with a single probe in half-open, and with its state
readable for health reports; it is a small pure state machine with no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .._clock import Clock
from .._errors import CircuitOpenError

BreakerState = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class BreakerSnapshot:
    """The breaker as health reports show it."""

    state: BreakerState
    consecutive_failures: int
    opened_count: int
    retry_in: float | None


class CircuitBreaker:
    """Counts consecutive failures of one service and stops calling it while it is down.

    Closed: requests flow; ``failure_threshold`` failures in a row open it. Open: requests fail at
    once with ``CircuitOpenError`` for ``reset_timeout`` seconds. Half-open: one probe request is
    let through; its success closes the breaker, its failure opens it again. Only failures that
    say the service is unwell count (no answer, 5xx); a 4xx is the caller's problem.
    """

    def __init__(
        self, service: str, *, failure_threshold: int, reset_timeout: float, clock: Clock
    ) -> None:
        self.service = service
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._state: BreakerState = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._opened_count = 0
        self._probing = False

    @property
    def state(self) -> BreakerState:
        """The state now (an open breaker past its timeout reads as half-open)."""
        if (
            self._state == "open"
            and self._clock.monotonic() - self._opened_at >= self.reset_timeout
        ):
            return "half_open"
        return self._state

    def before_request(self) -> None:
        """Let a request through, or refuse it.

        Raises:
            CircuitOpenError: the breaker is open, or half-open with its probe already out.
        """
        state = self.state
        if state == "closed":
            return
        if state == "half_open" and not self._probing:
            self._state = "half_open"
            self._probing = True
            return
        raise CircuitOpenError(
            f"The {self.service} service is failing; requests are paused.",
            retry_in=self._retry_in() or 0.0,
            service=self.service,
        )

    def record_success(self) -> None:
        """A request got a healthy answer: close the breaker."""
        self._state = "closed"
        self._failures = 0
        self._probing = False

    def record_failure(self) -> None:
        """A request failed in a way that says the service is unwell."""
        self._failures += 1
        self._probing = False
        if self._state == "open":
            return  # a request sent before the breaker opened; the pause is not extended
        if self._state == "half_open" or self._failures >= self.failure_threshold:
            self._opened_count += 1
            self._state = "open"
            self._opened_at = self._clock.monotonic()

    def release_probe(self) -> None:
        """A probe ended without a verdict (cancelled, or a 4xx): let another one through."""
        self._probing = False

    def snapshot(self) -> BreakerSnapshot:
        """The breaker's state for health reports."""
        return BreakerSnapshot(self.state, self._failures, self._opened_count, self._retry_in())

    def _retry_in(self) -> float | None:
        if self._state != "open":
            return None
        return max(0.0, self.reset_timeout - (self._clock.monotonic() - self._opened_at))
