"""The per-service circuit breaker in the transport: open, half-open probe, close, health."""

from __future__ import annotations

import asyncio

import pytest

from pyairtable_integration import (
    CircuitOpenError,
    NetworkError,
    NotFoundError,
    ServerError,
    ServiceUnavailableError,
)
from pyairtable_integration.testing import Gate, reset, status

from .conftest import Rig, RigFactory

pytestmark = pytest.mark.anyio

THRESHOLD = 3
RESET_TIMEOUT = 20.0


async def opened(faulty: RigFactory, **options: object) -> Rig:
    """A rig whose workspace breaker has just opened after THRESHOLD failed reads."""
    rig = await faulty(
        retry_attempts=0,
        breaker_failure_threshold=THRESHOLD,
        breaker_reset_timeout=RESET_TIMEOUT,
        **options,
    )
    rig.faults.add(status(503), method="GET", path="/workspaces", times=THRESHOLD - 1)
    rig.faults.add(reset(forward=False), method="GET", path="/workspaces")
    for _ in range(THRESHOLD):
        with pytest.raises((ServiceUnavailableError, NetworkError)):
            await rig.pa.services.workspace.get_workspaces()
    return rig


async def test_consecutive_failures_open_it_and_nothing_more_is_sent(faulty: RigFactory) -> None:
    rig = await opened(faulty)
    sent = len(rig.faults.requests)
    with pytest.raises(CircuitOpenError) as caught:
        await rig.pa.services.workspace.get_workspaces()
    assert caught.value.retry_in == RESET_TIMEOUT
    assert caught.value.service == "workspace"
    assert len(rig.faults.requests) == sent
    health = rig.pa.get_service_health()
    assert health["workspace"].breaker == "open"
    assert not health["workspace"].available
    assert health["workspace"].retry_in == RESET_TIMEOUT
    assert rig.pa.get_connection_status().open_breakers == ("workspace",)


async def test_other_services_keep_working_while_one_is_open(faulty: RigFactory) -> None:
    rig = await opened(faulty)
    user = await rig.pa.services.auth.get_me()
    assert rig.pa.auth.user is not None and user.id == rig.pa.auth.user.id
    assert rig.pa.get_service_health()["auth"].breaker == "closed"


async def test_after_the_timeout_a_successful_probe_closes_it(faulty: RigFactory) -> None:
    rig = await opened(faulty)
    rig.clock.advance(RESET_TIMEOUT)
    assert rig.pa.get_service_health()["workspace"].breaker == "half_open"
    await rig.pa.services.workspace.get_workspaces()
    health = rig.pa.get_service_health()["workspace"]
    assert (health.breaker, health.consecutive_failures) == ("closed", 0)
    await rig.pa.services.workspace.get_workspaces()


async def test_a_failed_probe_opens_it_again(faulty: RigFactory) -> None:
    rig = await opened(faulty)
    rig.clock.advance(RESET_TIMEOUT)
    rig.faults.add(status(500), method="GET", path="/workspaces")
    with pytest.raises(ServerError):
        await rig.pa.services.workspace.get_workspaces()
    sent = len(rig.faults.requests)
    with pytest.raises(CircuitOpenError):
        await rig.pa.services.workspace.get_workspaces()
    assert len(rig.faults.requests) == sent
    assert rig.pa.get_service_health()["workspace"].breaker == "open"


async def test_only_one_probe_goes_through_while_half_open(faulty: RigFactory) -> None:
    rig = await opened(faulty, deduplicate_requests=False)
    rig.clock.advance(RESET_TIMEOUT)
    gate = Gate()
    rig.faults.add(gate, method="GET", path="/workspaces")
    probe = asyncio.create_task(rig.pa.services.workspace.get_workspaces())
    await gate.arrived.wait()
    with pytest.raises(CircuitOpenError):
        await rig.pa.services.workspace.get_workspaces()
    gate.release()
    await probe
    assert gate.held == 1
    assert rig.pa.get_service_health()["workspace"].breaker == "closed"


async def test_client_errors_do_not_count_as_failures(faulty: RigFactory) -> None:
    rig = await faulty(retry_attempts=0, breaker_failure_threshold=2)
    for _ in range(5):
        with pytest.raises(NotFoundError):
            await rig.pa.services.workspace.get_workspace("wsp" + "0" * 16)
    health = rig.pa.get_service_health()["workspace"]
    assert (health.breaker, health.consecutive_failures) == ("closed", 0)


async def test_failed_retries_count_towards_opening(faulty: RigFactory) -> None:
    rig = await faulty(retry_attempts=5, breaker_failure_threshold=2)
    rig.faults.add(status(503), method="GET", path="/workspaces", times=None)
    with pytest.raises(CircuitOpenError):
        await rig.pa.services.workspace.get_workspaces()
    assert len(rig.faults.seen("GET", "/workspaces")) == 2
