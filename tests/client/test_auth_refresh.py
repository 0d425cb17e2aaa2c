"""Token refresh: single flight under load, on 401, and refresh-token reuse ending sessions."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from pyairtable_integration import (
    AuthenticationError,
    PyAirtableIntegration,
    ServiceError,
    ServiceUnavailableError,
    create_integration,
)
from pyairtable_integration.auth import MemoryTokenStore, SessionEvent
from pyairtable_integration.auth._manager import REFRESH_RETRY_SECONDS
from pyairtable_integration.testing import FakeClock, Fault, connect_error, status

from .conftest import (
    BASE_URL,
    Backend,
    IntegrationFactory,
    RigFactory,
    running_backend,
    sign_in,
)

pytestmark = pytest.mark.anyio

REFRESH = ("POST", "/api/v1/auth/refresh")
ACCESS_TOKEN_LIFETIME = 15 * 60


async def test_a_hundred_requests_with_an_expired_token_make_one_refresh(
    faulty: RigFactory, backend: Backend
) -> None:
    rig = await faulty(deduplicate_requests=False)
    assert rig.pa.auth.session is not None
    old = rig.pa.auth.session.tokens.authorization
    rig.clock.advance(ACCESS_TOKEN_LIFETIME + 1)
    refreshes = backend.count(*REFRESH)
    pages = await asyncio.gather(*(rig.pa.services.workspace.get_workspaces() for _ in range(100)))
    assert len(pages) == 100
    assert backend.count(*REFRESH) - refreshes == 1
    assert rig.pa.auth.refresh_count == 1
    sent = rig.faults.seen("GET", "/workspaces")
    assert len(sent) == 100
    assert {seen.headers["Authorization"] for seen in sent} == {
        rig.pa.auth.session.tokens.authorization
    }
    assert rig.pa.auth.session.tokens.authorization != old


async def test_a_token_is_refreshed_ahead_of_expiry_within_the_margin(
    faulty: RigFactory, backend: Backend
) -> None:
    rig = await faulty(refresh_margin=60)
    rig.clock.advance(ACCESS_TOKEN_LIFETIME - 30)
    refreshes = backend.count(*REFRESH)
    await rig.pa.services.workspace.get_workspaces()
    assert backend.count(*REFRESH) - refreshes == 1


async def test_a_401_makes_one_refresh_and_one_retry(faulty: RigFactory, backend: Backend) -> None:
    rig = await faulty()
    rig.faults.add(status(401), method="GET", path="/workspaces")
    refreshes = backend.count(*REFRESH)
    await rig.pa.services.workspace.get_workspaces()
    assert backend.count(*REFRESH) - refreshes == 1
    first, second = rig.faults.seen("GET", "/workspaces")
    assert first.headers["Authorization"] != second.headers["Authorization"]
    assert first.request_id == second.request_id


async def test_a_401_after_the_refresh_is_raised(faulty: RigFactory, backend: Backend) -> None:
    rig = await faulty()
    rig.faults.add(status(401), method="GET", path="/workspaces", times=2)
    refreshes = backend.count(*REFRESH)
    with pytest.raises(AuthenticationError):
        await rig.pa.services.workspace.get_workspaces()
    assert backend.count(*REFRESH) - refreshes == 1
    assert len(rig.faults.seen("GET", "/workspaces")) == 2


async def test_a_refresh_the_backend_failed_keeps_the_session(faulty: RigFactory) -> None:
    rig = await faulty(retry_attempts=0)
    rig.faults.add(status(503), method="POST", path="/auth/refresh")
    session = rig.pa.auth.session
    with pytest.raises(ServiceUnavailableError):
        await rig.pa.auth.refresh()
    assert rig.pa.auth.session is session
    await rig.pa.auth.refresh()
    assert rig.pa.auth.session is not session


@pytest.mark.parametrize("fault", [connect_error(), status(503), status(429, retry_after=1)])
async def test_a_due_refresh_that_fails_falls_back_to_the_still_valid_token(
    faulty: RigFactory, fault: Fault
) -> None:
    rig = await faulty(refresh_margin=60)
    assert rig.pa.auth.session is not None
    current = rig.pa.auth.session.tokens.authorization
    rig.clock.advance(ACCESS_TOKEN_LIFETIME - 30)
    rig.faults.add(fault, method="POST", path="/auth/refresh", times=None)
    await rig.pa.services.workspace.get_workspaces()
    assert rig.faults.seen("GET", "/workspaces")[-1].headers["Authorization"] == current
    rig.clock.advance(31)  # now expired: no fallback left
    with pytest.raises(ServiceError):
        await rig.pa.services.workspace.get_workspaces()
    assert rig.pa.auth.session is not None


async def test_the_background_refresh_survives_a_failed_refresh(faulty: RigFactory) -> None:
    rig = await faulty()
    rig.faults.add(status(503), method="POST", path="/auth/refresh")
    refreshed = asyncio.Event()
    rig.pa.auth.on_session_change(
        lambda event: refreshed.set() if event.kind == "refreshed" else None
    )
    keeper = asyncio.create_task(rig.pa.auth.keep_fresh())
    waiter = asyncio.create_task(refreshed.wait())
    try:
        # Whichever comes first: a loop that died on the failure ends, and fails the test.
        await asyncio.wait({keeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
        assert not keeper.done()
    finally:
        waiter.cancel()
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
    attempts = rig.faults.seen("POST", "/auth/refresh")
    assert attempts[0].status == 503
    assert attempts[1].status == 200
    assert REFRESH_RETRY_SECONDS in rig.clock.sleeps


@pytest.fixture(scope="module")
async def no_grace(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Backend]:
    """A backend that takes any second use of a refresh token as theft."""
    data_dir = tmp_path_factory.mktemp("no-grace") / "data"
    async with running_backend(data_dir, refresh_grace_seconds=0) as running:
        yield running


@pytest.fixture
async def pair(no_grace: Backend) -> AsyncIterator[tuple[PyAirtableIntegration, ...]]:
    """Two integrations on the no-grace backend, both holding the same session."""
    made = [
        create_integration(
            base_url=BASE_URL,
            retry_delay=0,
            environ={},
            clock=FakeClock(),
            http_transport=no_grace.transport(),
        )
        for _ in range(2)
    ]
    try:
        await sign_in(made[0], no_grace)
        await made[1].auth.set_session(made[0].auth.session)
        yield tuple(made)
    finally:
        for integration in made:
            await integration.aclose()


async def test_reusing_a_refresh_token_ends_every_holder_of_the_session(
    pair: tuple[PyAirtableIntegration, ...],
) -> None:
    first, second = pair
    events: dict[str, list[SessionEvent]] = {"first": [], "second": []}
    first.auth.on_session_change(events["first"].append)
    second.auth.on_session_change(events["second"].append)

    await first.auth.refresh()
    await first.services.workspace.get_workspaces()
    assert [event.kind for event in events["first"]] == ["refreshed"]

    with pytest.raises(AuthenticationError):
        await second.auth.refresh()
    assert second.auth.session is None
    assert [event.kind for event in events["second"]] == ["ended"]
    assert events["second"][0].reason is not None
    assert "already used" in events["second"][0].reason

    with pytest.raises(AuthenticationError):
        await first.auth.refresh()  # the whole family was revoked
    assert first.auth.session is None
    assert [event.kind for event in events["first"]] == ["refreshed", "ended"]


async def test_a_request_of_a_revoked_session_ends_it_on_its_401(
    pair: tuple[PyAirtableIntegration, ...],
) -> None:
    first, second = pair
    await first.auth.refresh()
    with pytest.raises(AuthenticationError):
        await second.auth.refresh()
    ended: list[SessionEvent] = []
    first.auth.on_session_change(ended.append)
    # The access token is still valid for the backend, so the session ends only when the
    # token is due: move past its expiry.
    clock = first.clock
    assert isinstance(clock, FakeClock)
    clock.advance(ACCESS_TOKEN_LIFETIME + 1)
    with pytest.raises(AuthenticationError):
        await first.services.workspace.get_workspaces()
    assert [event.kind for event in ended] == ["ended"]
    assert not first.auth.is_authenticated


async def test_a_newer_session_in_a_shared_store_is_adopted_instead_of_spending_an_old_token(
    make_integration: IntegrationFactory, backend: Backend
) -> None:
    """Two integrations sharing one token store: the second adopts the first one's refresh."""
    store = MemoryTokenStore()
    first = await make_integration(token_store=store)
    await sign_in(first, backend)
    second = await make_integration(token_store=store)
    assert second.auth.session == first.auth.session
    refreshed = await first.auth.refresh()
    refreshes = backend.count(*REFRESH)
    adopted = await second.auth.refresh()
    assert adopted == refreshed
    assert backend.count(*REFRESH) == refreshes
    # Both still work: the old refresh token was never replayed, so nothing was revoked.
    await first.services.workspace.get_workspaces()
    await second.services.workspace.get_workspaces()
    assert first.auth.session == second.auth.session == refreshed
