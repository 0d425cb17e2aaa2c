"""Helpers for testing code that uses the integration: injected faults and test clocks.

``FaultTransport`` wraps any httpx2 transport (an in-process backend's ``ASGITransport``, say)
and makes chosen requests fail the way networks and servers do; ``FakeClock`` moves time only
when told, so retries, breakers and token expiry are tested without waiting; ``AutojumpClock``
runs a *started* integration on virtual time that jumps ahead whenever the loop is idle, so
back-offs, token expiry and reconnects happen in order without real sleeps; ``TcpProxy`` sits
between a client and a server on a port and cuts, blackholes or refuses its sockets;
``BackendApi`` arranges test data over raw HTTP as other users (``Actor``).

``live_backend`` serves the reference backend on a port (for WebSocket and SSE).
``pyairtable_integration.testing.plugin`` is a pytest plugin with the reference backend
in-process (the ``pyairtable`` fixture, ``InProcessBackend``); it needs the ``[server]`` extra
and is imported only when enabled.
"""

from ._api import Actor, BackendApi
from ._autojump import AutojumpClock
from ._backend import (
    PASSWORD,
    InProcessBackend,
    backend_settings,
    fast_backend_settings,
    in_process_backend,
)
from ._clock import FakeClock
from ._faults import (
    Fault,
    FaultRule,
    FaultTransport,
    Gate,
    SeenRequest,
    connect_error,
    connect_timeout,
    delay,
    garbage,
    passthrough,
    read_timeout,
    reset,
    status,
    wrong_shape,
)
from ._live import LiveBackend, Serving, live_backend, serving
from ._proxy import TcpProxy, tcp_proxy

__all__ = [
    "PASSWORD",
    "Actor",
    "AutojumpClock",
    "BackendApi",
    "FakeClock",
    "Fault",
    "FaultRule",
    "FaultTransport",
    "Gate",
    "InProcessBackend",
    "LiveBackend",
    "SeenRequest",
    "Serving",
    "TcpProxy",
    "backend_settings",
    "connect_error",
    "connect_timeout",
    "delay",
    "fast_backend_settings",
    "garbage",
    "in_process_backend",
    "live_backend",
    "passthrough",
    "read_timeout",
    "reset",
    "serving",
    "status",
    "tcp_proxy",
    "wrong_shape",
]
