"""PyAirtable Integration: the typed, async-first client layer for the PyAirtable platform.

    from pyairtable_integration import create_integration

    async with create_integration(base_url="http://localhost:8080/api/v1") as pa:
        await pa.auth.login("ada@example.com", "...")
        workspaces = await pa.services.workspace.get_workspaces()

The reference backend ships beside it as ``pyairtable_server``.
"""

from ._config import (
    CacheConfig,
    ConfigurationError,
    Features,
    IntegrationConfig,
    RealtimeConfig,
)
from ._errors import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    CircuitOpenError,
    ConflictError,
    ErrorHandler,
    EventsResetError,
    IdempotencyKeyReusedError,
    InvalidIdError,
    InvalidOffsetError,
    InvalidRequestError,
    NetworkError,
    NotFoundError,
    OfflineError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitedError,
    RequestTimeoutError,
    ResponseValidationError,
    ServerError,
    ServiceError,
    ServiceUnavailableError,
)
from ._integration import PyAirtableIntegration, create_integration
from ._session_client import SessionClient
from ._status import ConnectionStatus, ServiceStatus
from ._sync import SyncIntegration
from ._version import __version__
from .auth import FileTokenStore, MemoryTokenStore, Session, SessionEvent, TokenStore
from .live import ConnectionView, Live, LiveMutation, LiveQuery, MutationState, QueryState
from .offline import (
    OfflineOutbox,
    OutboxCorruptError,
    OutboxEntry,
    OutboxError,
    OutboxEvent,
    OutboxWriteError,
)
from .optimistic import (
    ConflictStrategy,
    MutationResult,
    Mutations,
    OptimisticManager,
    PendingUpdate,
    Resolution,
    UpdateEvent,
)
from .realtime import RealtimeClient, RealtimeState, Reset, Subscription

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "AuthenticationError",
    "CacheConfig",
    "CircuitOpenError",
    "ConfigurationError",
    "ConflictError",
    "ConflictStrategy",
    "ConnectionStatus",
    "ConnectionView",
    "ErrorHandler",
    "EventsResetError",
    "Features",
    "FileTokenStore",
    "IdempotencyKeyReusedError",
    "IntegrationConfig",
    "InvalidIdError",
    "InvalidOffsetError",
    "InvalidRequestError",
    "Live",
    "LiveMutation",
    "LiveQuery",
    "MemoryTokenStore",
    "MutationResult",
    "MutationState",
    "Mutations",
    "NetworkError",
    "NotFoundError",
    "OfflineError",
    "OfflineOutbox",
    "OptimisticManager",
    "OutboxCorruptError",
    "OutboxEntry",
    "OutboxError",
    "OutboxEvent",
    "OutboxWriteError",
    "PayloadTooLargeError",
    "PendingUpdate",
    "PermissionDeniedError",
    "PyAirtableIntegration",
    "QueryState",
    "RateLimitedError",
    "RealtimeClient",
    "RealtimeConfig",
    "RealtimeState",
    "RequestTimeoutError",
    "Reset",
    "Resolution",
    "ResponseValidationError",
    "ServerError",
    "ServiceError",
    "ServiceStatus",
    "ServiceUnavailableError",
    "Session",
    "SessionClient",
    "SessionEvent",
    "Subscription",
    "SyncIntegration",
    "TokenStore",
    "UpdateEvent",
    "__version__",
    "create_integration",
]
