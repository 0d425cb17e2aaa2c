"""What the integration reports about the backend: each service, and the connection as a whole.

Plain data, read by ``pa.get_service_health()`` and ``pa.get_connection_status()`` and by the
blocking facade's twins of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .transport import BreakerState

ConnectionState = Literal["unknown", "online", "degraded", "offline"]


@dataclass(frozen=True)
class ServiceStatus:
    """One service as the integration sees it: the backend's report and the local breaker."""

    name: str
    backend_status: str | None
    latency_ms: float | None
    breaker: BreakerState
    consecutive_failures: int
    retry_in: float | None

    @property
    def available(self) -> bool:
        """Whether requests to the service are being sent (its breaker is not open)."""
        return self.breaker != "open"


@dataclass(frozen=True)
class ConnectionStatus:
    """Whether the backend is reachable, from the latest requests and health check."""

    state: ConnectionState
    authenticated: bool
    last_success_ago: float | None
    last_error: str | None
    open_breakers: tuple[str, ...]
