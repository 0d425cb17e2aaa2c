"""Limit clocks that server tests hold still, so that no window ends in the middle of a test.

"N per minute" counts the hits of a window. Hits on both sides of a window's edge are counted
apart (fixed windows: login failures and sign-ups, ``security.attempts``) or with the earlier
ones discounted (the request limiter's sliding window counter, `limits`), so a test that
expects the N+1-th hit refused would see it pass whenever a slow run crossed an edge (which
is every run near a minute's end). Held still, every hit of a test falls in one window, and a
``Retry-After`` is still counted from that moment to the window's end.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import limits.aio.storage.memory
import pytest


def hold_attempts_clock(app: Any) -> float:
    """Hold the clock of ``app``'s attempt limits (login failures, sign-ups) at now; now."""
    now = time.time()
    app.state.services.attempts.clock = lambda: now
    return now


def hold_request_limiter_clock(monkeypatch: pytest.MonkeyPatch) -> float:
    """Hold the clock of the request limiter (per IP, per token; its in-memory counters) at
    now, until the test ends; now.

    `limits` has no clock to inject: its memory storage reads ``time.time()`` from its own
    module, so that module is given a ``time`` whose ``time()`` stands still.
    """
    now = time.time()
    monkeypatch.setattr(limits.aio.storage.memory, "time", SimpleNamespace(time=lambda: now))
    return now
