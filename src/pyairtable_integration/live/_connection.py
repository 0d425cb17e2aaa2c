"""``pa.live.connection``: the realtime connection, the outbox and reachability, observable."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .._subscribable import Listeners
from ..offline import OutboxEvent
from ..realtime import RealtimeState, Status, TransportKind

if TYPE_CHECKING:
    from ._host import LiveHost

logger = logging.getLogger("pyairtable_integration.live")
Indicator = Literal["live", "fallback", "offline"]
ConnectionListener = Callable[["ConnectionView"], None]


@dataclass(frozen=True)
class ConnectionView:
    """The connection as a user should see it.

    ``status`` and ``transport`` are the realtime connection's (``closed`` when realtime is
    off); ``pending_writes`` counts the signed-in user's unsent outbox entries; ``online`` is
    False while the backend is known unreachable (the integration's ``OnlineStatus`` says so,
    or realtime has fallen to ``offline``).
    """

    status: Status
    transport: TransportKind | None
    pending_writes: int
    online: bool

    @property
    def indicator(self) -> Indicator:
        """``live`` (events on the WebSocket), ``fallback`` (on SSE or polling, or realtime
        off but the backend reachable) or ``offline``."""
        if not self.online or self.status == "offline":
            return "offline"
        if self.status == "connected":
            return "live"
        if self.status in ("fallback", "closed"):
            return "fallback"
        return "offline"  # connecting or reconnecting: no events are flowing


class LiveConnection:
    """Observable ``ConnectionView`` of one integration (``pa.live.connection``).

    It listens to the realtime manager, the outbox and its connectivity from creation on (they
    live as long as the integration); observers come and go with ``subscribe``.
    """

    def __init__(self, pa: LiveHost) -> None:
        self._pa = pa
        self._observers: Listeners[ConnectionView] = Listeners("connection observer")
        self._online_hooks: Listeners[None] = Listeners("came-online hook")
        self._state = self._read()
        pa.realtime.on_state_change(self._realtime_changed)
        pa.offline.on_change(self._outbox_changed)
        pa.online.subscribe(self._connectivity_changed)

    def __repr__(self) -> str:
        return f"LiveConnection({self._state!r})"

    @property
    def state(self) -> ConnectionView:
        """The connection now."""
        return self._state

    @property
    def online(self) -> bool:
        """Whether automatic fetches should be sent now."""
        return self._state.online

    def subscribe(self, listener: ConnectionListener) -> Callable[[], None]:
        """Call ``listener(view)`` on every change; returns a function that stops it."""
        return self._observers.subscribe(listener)

    @property
    def observer_count(self) -> int:
        """How many observers are subscribed (leak checks)."""
        return len(self._observers)

    def on_online(self, hook: Callable[[], None]) -> Callable[[], None]:
        """Call ``hook()`` each time the backend becomes reachable again (paused queries resume);
        returns a function that stops it."""
        return self._online_hooks.subscribe(lambda _none: hook())

    def report_unreachable(self) -> None:
        """A fetch got no answer: the integration's online status turns offline, and its probe
        says when the backend is back (paused queries then resume by themselves)."""
        self._pa.online.set_online(False)

    def _read(self) -> ConnectionView:
        realtime: RealtimeState = self._pa.realtime.state
        offline = self._pa.offline
        reachable = self._pa.online.online
        return ConnectionView(
            status=realtime.status,
            transport=realtime.transport,
            pending_writes=offline.pending_count,
            online=reachable and realtime.status != "offline",
        )

    def _refresh(self) -> None:
        before, after = self._state, self._read()
        if after == before:
            return
        self._state = after
        self._observers.emit(after)
        if after.online and not before.online:
            self._online_hooks.emit(None)

    def _realtime_changed(self, _state: RealtimeState) -> None:
        self._refresh()

    def _outbox_changed(self, _event: OutboxEvent) -> None:
        self._refresh()

    def _connectivity_changed(self, _online: bool) -> None:
        self._refresh()
