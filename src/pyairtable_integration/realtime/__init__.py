"""The realtime client: subscriptions fed over WebSocket, Server-Sent Events or the event log."""

from ._client import RealtimeClient
from ._frames import Channel
from ._manager import EventListener, RealtimeManager, ResetListener, SignedOut, StateListener
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
    "EventListener",
    "HeartbeatTimeout",
    "Ladder",
    "RealtimeClient",
    "RealtimeManager",
    "RealtimeState",
    "Reset",
    "ResetCallback",
    "ResetListener",
    "SignedOut",
    "SseDecoder",
    "SseMessage",
    "StateListener",
    "Status",
    "Subscription",
    "TransportKind",
]
