"""What the blocking facade needs of an integration (``PyAirtableIntegration`` has it).

The facade sits below the composition root: it knows this protocol, not ``_integration``, so
``pa.sync()`` imports downwards only.
"""

from __future__ import annotations

from typing import Protocol

from .._metrics import ServiceMetrics
from .._status import ConnectionStatus, ServiceStatus
from ..auth import AuthManager, Session
from ..cache import Cache
from ..offline import OfflineOutbox
from ..optimistic import Mutations, OptimisticManager
from ..realtime import RealtimeClient
from ..services import Services
from ..types import Health


class SyncHost(Protocol):
    """An async integration the facade can run on its own loop."""

    @property
    def started(self) -> bool:
        """Whether ``initialize()`` or ``aclose()`` was called (on some loop)."""
        ...

    @property
    def services(self) -> Services: ...

    @property
    def auth(self) -> AuthManager: ...

    @property
    def mutate(self) -> Mutations: ...

    @property
    def optimistic(self) -> OptimisticManager: ...

    @property
    def offline(self) -> OfflineOutbox: ...

    @property
    def realtime(self) -> RealtimeClient: ...

    @property
    def cache(self) -> Cache: ...

    async def initialize(self, session: Session | None = None) -> None: ...

    async def aclose(self) -> None: ...

    async def check_health(self) -> Health: ...

    def get_service_health(self) -> dict[str, ServiceStatus]: ...

    def get_connection_status(self) -> ConnectionStatus: ...

    def get_metrics(self) -> dict[str, ServiceMetrics]: ...

    async def invalidate_cache(self, prefix: str) -> None: ...

    async def clear_cache(self) -> None: ...
