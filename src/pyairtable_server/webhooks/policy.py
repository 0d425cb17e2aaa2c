"""When to try a delivery again, when to give up on a webhook, and which events it wants: pure.

Retries follow a schedule of delays between attempts (the first attempt is immediate). Each delay
is lengthened by a random share of up to ``jitter``, never shortened, so that deliveries failing
together spread out while the schedule keeps its promised total span (more than 24 hours by
default). After the last delay's attempt fails, the delivery has failed.

A webhook is disabled after a long run of failures: at least ``min_failures`` failed attempts in a
row AND failing continuously for at least ``min_duration``. Both, because either alone misfires:
a burst of events to a briefly-down receiver racks up many failures in minutes, and a webhook that
gets one event a day would need days of failures to reach any count.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

#: Every event type of contract §8 a webhook may subscribe to.
EVENT_TYPES: frozenset[str] = frozenset(
    [
        *(
            f"{resource}.{verb}"
            for resource in ("record", "table", "field", "view", "base")
            for verb in ("created", "updated", "deleted")
        ),
        "workspace.created",
        "workspace.updated",
        "workspace.deleted",
        "workspace.member_added",
        "workspace.member_updated",
        "workspace.member_removed",
    ]
)
CHANNELS: frozenset[str] = frozenset(event_type.partition(".")[0] for event_type in EVENT_TYPES)
#: The type of the synthetic event ``POST /webhooks/{id}/test`` sends; never subscribable.
TEST_EVENT_TYPE = "webhook.test"


def is_event_pattern(pattern: str) -> bool:
    """Whether ``pattern`` names events: a known type, ``<channel>.*``, or ``*``."""
    if pattern == "*" or pattern in EVENT_TYPES:
        return True
    channel, dot, rest = pattern.partition(".")
    return dot == "." and rest == "*" and channel in CHANNELS


def wants(patterns: Iterable[str], event_type: str) -> bool:
    """Whether a webhook subscribed to ``patterns`` receives events of ``event_type``."""
    channel = event_type.partition(".")[0]
    return any(p == "*" or p == event_type or p == f"{channel}.*" for p in patterns)


def retry_delay(
    failed_attempts: int,
    schedule: Sequence[float],
    *,
    jitter: float,
    rand: Callable[[], float] = random.random,
) -> float | None:
    """Seconds to wait after the ``failed_attempts``-th failed attempt (1-based), or None when the
    schedule is exhausted and the delivery has failed.

    Raises ``ValueError`` for ``failed_attempts`` below 1.
    """
    if failed_attempts < 1:
        raise ValueError("failed_attempts counts from 1")
    if failed_attempts > len(schedule):
        return None
    return schedule[failed_attempts - 1] * (1 + jitter * rand())


def should_disable(
    failure_count: int,
    failing_since: datetime | None,
    now: datetime,
    *,
    min_failures: int,
    min_duration: timedelta,
) -> bool:
    """Whether a run of ``failure_count`` failed attempts since ``failing_since`` disables it."""
    if failing_since is None:
        return False
    return failure_count >= min_failures and now - failing_since >= min_duration
