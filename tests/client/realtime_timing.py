"""Realtime timings for tests: short heartbeats and backoff so faults are noticed quickly."""

from __future__ import annotations

from typing import Any

#: A guard against a hang, never a measure: every wait in a test ends long before it normally.
HANG = 90

#: ``realtime_config`` for tests on a real port: a dead socket is found in about a second, and
#: reconnects, probes and polls come within a fraction of one.
FAST_REALTIME: dict[str, Any] = {
    "heartbeat_interval": 0.5,
    "heartbeat_timeout": 1.0,
    "sse_heartbeat_timeout": 3.0,
    "reconnect_delay": 0.05,
    "reconnect_max_delay": 0.5,
    "probe_delay": 0.2,
    "poll_interval": 0.1,
    "failures_to_fall": 2,
}
