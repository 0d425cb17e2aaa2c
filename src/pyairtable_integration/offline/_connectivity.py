"""The outbox's view of reachability: the integration's one ``OnlineStatus`` (``_online``).

``Connectivity`` is its former name, kept so code that built one goes on working.
"""

from __future__ import annotations

from .._online import (
    DEFAULT_PROBE_BASE_DELAY,
    DEFAULT_PROBE_MAX_DELAY,
    OnlineListener,
    OnlineStatus,
    probe_delay,
)

Connectivity = OnlineStatus
ConnectivityListener = OnlineListener

__all__ = [
    "DEFAULT_PROBE_BASE_DELAY",
    "DEFAULT_PROBE_MAX_DELAY",
    "Connectivity",
    "ConnectivityListener",
    "probe_delay",
]
