"""Helpers for testing code that uses the integration: injected faults and a fake clock.

``FaultTransport`` wraps any httpx2 transport (an in-process backend's ``ASGITransport``, say)
and makes chosen requests fail the way networks and servers do; ``FakeClock`` moves time only
when told, so retries, breakers and token expiry are tested without waiting.
"""

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

__all__ = [
    "FakeClock",
    "Fault",
    "FaultRule",
    "FaultTransport",
    "Gate",
    "SeenRequest",
    "connect_error",
    "connect_timeout",
    "delay",
    "garbage",
    "passthrough",
    "read_timeout",
    "reset",
    "status",
    "wrong_shape",
]
