"""What the live layer reads from the integration that owns it, as a protocol.

``live`` never imports ``_integration`` (the dependency rule, ``tests/client/test_layers.py``):
it names here the parts it uses, and the integration passes itself, which has them all.
"""

from __future__ import annotations

from typing import Protocol

from .._clock import Clock
from .._config import IntegrationConfig
from .._online import OnlineStatus
from ..offline import OfflineOutbox
from ..optimistic import Mutations
from ..realtime import RealtimeClient
from ..services import Services
from ..store import Cache


class LiveHost(Protocol):
    """The integration's parts the live layer reads (never writes)."""

    @property
    def config(self) -> IntegrationConfig: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def cache(self) -> Cache: ...

    @property
    def services(self) -> Services: ...

    @property
    def realtime(self) -> RealtimeClient: ...

    @property
    def offline(self) -> OfflineOutbox: ...

    @property
    def online(self) -> OnlineStatus: ...

    @property
    def mutate(self) -> Mutations: ...
