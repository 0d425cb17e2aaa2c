"""When to try a request again, and how long to wait first: a frozen policy and pure functions.

Written here rather than taken from stamina or tenacity because each decision depends on the
answer itself (its status, its ``Retry-After``, whether the write carries an idempotency key)
and on the circuit breaker between attempts, which those libraries do not see.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How many times to retry and how long to wait.

    ``attempts`` counts retries after the first try. The n-th retry waits a random time between
    half and all of ``min(max_delay, base_delay * 2 ** (n - 1))`` (equal jitter: clients that
    failed together do not return together, yet none retries at once). A ``Retry-After`` answer is
    obeyed instead when it is at most ``retry_after_cap``; beyond that the error is raised.
    """

    attempts: int = 3
    base_delay: float = 1.0
    max_delay: float = 30.0
    retry_after_cap: float = 60.0
    statuses: frozenset[int] = field(default=RETRYABLE_STATUSES)


def may_retry_method(method: str, *, idempotency_key: str | None) -> bool:
    """Whether a request of ``method`` may be sent twice: reads always, writes only with a key."""
    return method.upper() in SAFE_METHODS or idempotency_key is not None


def backoff_delay(
    policy: RetryPolicy, retry: int, *, uniform: Callable[[float, float], float] = random.uniform
) -> float:
    """The jittered wait before the ``retry``-th retry (1-based), in seconds.

    Any ``retry`` is fine: a loop that retries for days (realtime reconnects) must not overflow.
    """
    # 2**64 times any base is past any cap; math.pow(2, 1024) would raise OverflowError.
    exponent = min(max(retry - 1, 0), 64)
    ceiling = min(policy.max_delay, policy.base_delay * math.pow(2, exponent))
    return uniform(ceiling / 2, ceiling)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), or None.

    A malformed value is None; a date in the past is 0.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def retry_wait(
    policy: RetryPolicy,
    retry: int,
    *,
    retry_after: float | None,
    uniform: Callable[[float, float], float] = random.uniform,
) -> float | None:
    """The wait before the ``retry``-th retry, or None when the policy says stop.

    Stops when the retries are used up or the backend asked for a wait longer than the cap.
    """
    if retry > policy.attempts:
        return None
    if retry_after is not None:
        return retry_after if retry_after <= policy.retry_after_cap else None
    return backoff_delay(policy, retry, uniform=uniform)
