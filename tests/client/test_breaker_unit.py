"""The circuit breaker's state machine on a fake clock, without an event loop."""

from __future__ import annotations

import pytest

from pyairtable_integration import CircuitOpenError
from pyairtable_integration.testing import FakeClock
from pyairtable_integration.transport import CircuitBreaker


def breaker(clock: FakeClock, threshold: int = 3, reset_timeout: float = 30.0) -> CircuitBreaker:
    return CircuitBreaker(
        "record", failure_threshold=threshold, reset_timeout=reset_timeout, clock=clock
    )


def test_it_opens_after_the_threshold_of_consecutive_failures() -> None:
    clock = FakeClock()
    b = breaker(clock)
    for _ in range(2):
        b.before_request()
        b.record_failure()
    assert b.snapshot().state == "closed"
    b.before_request()
    b.record_failure()
    assert b.snapshot().state == "open"
    with pytest.raises(CircuitOpenError) as caught:
        b.before_request()
    assert caught.value.retry_in == 30.0
    assert caught.value.service == "record"
    assert b.snapshot().opened_count == 1


def test_a_success_resets_the_count_of_failures() -> None:
    b = breaker(FakeClock())
    b.record_failure()
    b.record_failure()
    b.record_success()
    b.record_failure()
    b.record_failure()
    assert b.snapshot().state == "closed"
    assert b.snapshot().consecutive_failures == 2


def test_after_the_reset_timeout_one_probe_goes_through_and_its_success_closes() -> None:
    clock = FakeClock()
    b = breaker(clock, threshold=1, reset_timeout=10.0)
    b.record_failure()
    clock.advance(9.0)
    assert b.snapshot().state == "open"
    assert b.snapshot().retry_in == 1.0
    clock.advance(1.0)
    assert b.snapshot().state == "half_open"
    b.before_request()  # the probe
    with pytest.raises(CircuitOpenError):
        b.before_request()  # only one probe at a time
    b.record_success()
    assert b.snapshot().state == "closed"
    b.before_request()


def test_a_failed_probe_opens_the_breaker_again_for_a_full_timeout() -> None:
    clock = FakeClock()
    b = breaker(clock, threshold=2, reset_timeout=10.0)
    b.record_failure()
    b.record_failure()
    clock.advance(10.0)
    b.before_request()
    b.record_failure()
    assert b.snapshot().state == "open"
    assert b.snapshot().retry_in == 10.0
    assert b.snapshot().opened_count == 2


def test_a_released_probe_lets_another_probe_through() -> None:
    clock = FakeClock()
    b = breaker(clock, threshold=1, reset_timeout=5.0)
    b.record_failure()
    clock.advance(5.0)
    b.before_request()
    b.release_probe()
    b.before_request()
    assert b.snapshot().state == "half_open"


def test_late_failures_of_requests_sent_before_it_opened_do_not_extend_the_pause() -> None:
    clock = FakeClock()
    b = breaker(clock, threshold=1, reset_timeout=10.0)
    b.record_failure()
    clock.advance(6.0)
    b.record_failure()
    assert b.snapshot().retry_in == 4.0
