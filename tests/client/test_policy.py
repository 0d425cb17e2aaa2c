"""Retry maths without I/O: backoff, jitter, ``Retry-After`` parsing and the cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from pyairtable_integration.transport import (
    RetryPolicy,
    backoff_delay,
    may_retry_method,
    parse_retry_after,
    retry_wait,
)

NOW = datetime(2030, 5, 1, 12, 0, 0, tzinfo=UTC)


def top(low: float, high: float) -> float:
    return high


def bottom(low: float, high: float) -> float:
    return low


def test_backoff_doubles_from_the_base_delay_until_the_maximum() -> None:
    policy = RetryPolicy(attempts=10, base_delay=0.5, max_delay=3.0)
    ceilings = [backoff_delay(policy, retry, uniform=top) for retry in range(1, 6)]
    assert ceilings == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_jitter_stays_between_half_and_all_of_the_delay() -> None:
    policy = RetryPolicy(attempts=10, base_delay=1.0, max_delay=30.0)
    for retry in range(1, 8):
        ceiling = min(30.0, 2.0 ** (retry - 1))
        assert backoff_delay(policy, retry, uniform=bottom) == ceiling / 2
        assert backoff_delay(policy, retry, uniform=top) == ceiling
        for _ in range(50):
            assert ceiling / 2 <= backoff_delay(policy, retry) <= ceiling


def test_a_zero_base_delay_never_waits() -> None:
    policy = RetryPolicy(attempts=3, base_delay=0.0)
    assert [retry_wait(policy, n, retry_after=None) for n in (1, 2, 3)] == [0.0, 0.0, 0.0]


def test_retry_wait_stops_after_the_allowed_number_of_retries() -> None:
    policy = RetryPolicy(attempts=2, base_delay=1.0)
    assert retry_wait(policy, 2, retry_after=None, uniform=top) == 2.0
    assert retry_wait(policy, 3, retry_after=None) is None
    assert retry_wait(RetryPolicy(attempts=0), 1, retry_after=None) is None


def test_retry_after_within_the_cap_replaces_the_backoff() -> None:
    policy = RetryPolicy(attempts=3, base_delay=1.0, retry_after_cap=10.0)
    assert retry_wait(policy, 1, retry_after=7.0) == 7.0
    assert retry_wait(policy, 1, retry_after=10.0) == 10.0


def test_retry_after_beyond_the_cap_stops_retrying() -> None:
    policy = RetryPolicy(attempts=3, retry_after_cap=10.0)
    assert retry_wait(policy, 1, retry_after=10.5) is None


def test_parse_retry_after_reads_delta_seconds() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after("0") == 0.0


def test_parse_retry_after_reads_an_http_date_relative_to_now() -> None:
    later = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(later, now=NOW) == 90.0


def test_parse_retry_after_treats_a_past_date_and_negative_seconds_as_no_wait() -> None:
    earlier = format_datetime(NOW - timedelta(minutes=5), usegmt=True)
    assert parse_retry_after(earlier, now=NOW) == 0.0
    assert parse_retry_after("-5") == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "nan", "inf", "Mon, 99 Foo 2030"])
def test_parse_retry_after_ignores_what_it_cannot_read(value: str | None) -> None:
    assert parse_retry_after(value) is None


def test_reads_may_always_be_retried_and_writes_only_with_an_idempotency_key() -> None:
    assert may_retry_method("GET", idempotency_key=None)
    assert may_retry_method("head", idempotency_key=None)
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert not may_retry_method(method, idempotency_key=None)
        assert may_retry_method(method, idempotency_key="k1")


def test_backoff_stays_at_the_maximum_however_many_retries() -> None:
    """A loop that retries for days (realtime reconnects) once died of OverflowError at 1,025."""
    policy = RetryPolicy(base_delay=0.5, max_delay=30.0)
    for retry in (1_025, 10**6):
        assert backoff_delay(policy, retry, uniform=lambda low, high: high) == 30.0
