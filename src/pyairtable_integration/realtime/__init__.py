"""The realtime client: subscriptions fed over WebSocket, Server-Sent Events or the event log."""

from ._client import RealtimeClient
from ._frames import Channel
from ._manager import RealtimeManager, SignedOut
from ._sse import SseDecoder, SseMessage
from ._state import Ladder, RealtimeState, Status, TransportKind
from ._subscription import (
    BatchCallback,
    EventCallback,
    Reset,
    ResetCallback,
    Subscription,
)
from ._websocket import HeartbeatTimeout

__all__ = [
    "BatchCallback",
    "Channel",
    "EventCallback",
    "HeartbeatTimeout",
    "Ladder",
    "RealtimeClient",
    "RealtimeManager",
    "RealtimeState",
    "Reset",
    "ResetCallback",
    "SignedOut",
    "SseDecoder",
    "SseMessage",
    "Status",
    "Subscription",
    "TransportKind",
]
