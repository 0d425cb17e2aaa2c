"""Limits on credential attempts hold under concurrency and across worker processes.

A login attempt is counted before its password is checked, in the database every process
shares: twenty guesses sent at once against a limit of ten get ten checks and ten 429s, on one
process or on ``serve --workers 2``. The limits count per fixed window: in process, their clock
is held still (``clocks``); the workers get a window that cannot end during the run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import anyio
import httpx2
import pytest
from sqlalchemy import func, select

from pyairtable_server.db.models import AttemptCounter
from pyairtable_server.security import attempts
from pyairtable_server.settings import Settings

from .backend import PASSWORD, running_api
from .clocks import hold_attempts_clock
from .process import clean_environment, serving

pytestmark = pytest.mark.anyio

GUESSES = 20
LIMIT = 10
#: A hang guard for ``serve --workers 2`` to start, never a measure: the supervisor and each
#: worker import the app, which took 65 s on this 2-core machine at load 8.5.
WORKERS_START_SECONDS = 600


async def _guess_all_at_once(client: httpx2.AsyncClient, email: str) -> Counter[int]:
    statuses: Counter[int] = Counter()

    async def guess(index: int) -> None:
        response = await client.post(
            "/auth/login", json={"email": email, "password": f"wrong guess number {index}"}
        )
        statuses[response.status_code] += 1

    async with anyio.create_task_group() as tasks:
        for index in range(GUESSES):
            tasks.start_soon(guess, index)
    return statuses


async def test_concurrent_wrong_guesses_get_no_more_checks_than_the_limit(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(login_failures_per_account=f"{LIMIT}/15 minutes")
    async with running_api(settings) as api:
        hold_attempts_clock(api.app)
        await api.register("target@example.com")
        statuses = await _guess_all_at_once(api.client, "target@example.com")
        right = await api.client.post(
            "/auth/login", json={"email": "target@example.com", "password": PASSWORD}
        )
    assert statuses == Counter({401: LIMIT, 429: GUESSES - LIMIT})
    assert right.status_code == 429


async def test_concurrent_guesses_spread_over_two_workers_share_one_limit(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """``serve --workers 2``: each worker counts in the shared database, not in its memory."""
    settings = make_settings()
    # Made, migrated and given its user here: the workers only have to start.
    async with running_api(settings) as api:
        await api.register("target@example.com")
    env = clean_environment(
        PYAIRTABLE_ARGON2_TIME_COST="1",
        PYAIRTABLE_ARGON2_MEMORY_KIB="1024",
        PYAIRTABLE_ARGON2_PARALLELISM="1",
        # The workers' clocks cannot be held: one window for the whole run instead (it started
        # at the epoch and ends in 2955), so no window edge can split the guesses.
        PYAIRTABLE_LOGIN_FAILURES_PER_ACCOUNT=f"{LIMIT}/1000 years",
        PYAIRTABLE_LOGIN_FAILURES_PER_IP="1000/minute",
        **({"PYAIRTABLE_DATABASE_URL": settings.database_url} if settings.database_url else {}),
    )
    data_dir = str(settings.data_dir)
    with serving(
        *("--workers", "2", "--data-dir", data_dir, "--log-level", "info"),
        env=env,
        cwd=tmp_path,
        startup_seconds=WORKERS_START_SECONDS,
    ) as served:
        # Both workers serve before the first guess (uvicorn says so for each at level info).
        with anyio.fail_after(WORKERS_START_SECONDS):
            while served.output.count("Application startup complete.") < 2:  # noqa: ASYNC110 - a log, not an event
                await anyio.sleep(0.1)
        # No keep-alive: every guess is a new connection, which the kernel spreads over workers.
        async with httpx2.AsyncClient(
            base_url=served.base_url, timeout=30, limits=httpx2.Limits(max_keepalive_connections=0)
        ) as client:
            statuses = await _guess_all_at_once(client, "target@example.com")
    assert statuses == Counter({401: LIMIT, 429: GUESSES - LIMIT})


async def test_a_right_password_takes_back_its_hit_on_the_ip_limit(
    make_settings: Callable[..., Settings],
) -> None:
    async with running_api(make_settings(login_failures_per_ip="2/minute")) as api:
        hold_attempts_clock(api.app)
        user = await api.register()
        for _ in range(5):
            await api.login(user["email"])  # successes are no failures
        for _ in range(2):
            wrong = await api.client.post(
                "/auth/login", json={"email": user["email"], "password": "not the password"}
            )
            assert wrong.status_code == 401
        blocked = await api.client.post(
            "/auth/login", json={"email": user["email"], "password": PASSWORD}
        )
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["retry-after"]) <= 60


async def test_a_wrong_current_password_counts_as_a_failed_login_even_concurrently(
    make_settings: Callable[..., Settings],
) -> None:
    async with running_api(make_settings(login_failures_per_account="3/15 minutes")) as api:
        hold_attempts_clock(api.app)
        actor = await api.actor()
        statuses: Counter[int] = Counter()

        async def change(index: int) -> None:
            response = await api.client.post(
                "/auth/change-password",
                json={"current_password": f"wrong {index} guess", "new_password": "x" * 12},
                headers=actor.headers,
            )
            statuses[response.status_code] += 1

        async with anyio.create_task_group() as tasks:
            for index in range(8):
                tasks.start_soon(change, index)
        login = await api.client.post(
            "/auth/login", json={"email": actor.email, "password": PASSWORD}
        )
    assert statuses == Counter({422: 3, 429: 5})
    assert login.status_code == 429


async def test_sign_ups_are_limited_per_ip_counting_failed_ones(
    make_settings: Callable[..., Settings],
) -> None:
    async with running_api(make_settings(registrations_per_ip="3/hour")) as api:
        hold_attempts_clock(api.app)

        async def sign_up(email: str) -> httpx2.Response:
            body = {"email": email, "password": PASSWORD, "first_name": "A", "last_name": "B"}
            return await api.client.post("/auth/register", json=body)

        assert (await sign_up("first@example.com")).status_code == 201
        assert (await sign_up("first@example.com")).status_code == 409
        assert (await sign_up("second@example.com")).status_code == 201
        refused = await sign_up("third@example.com")
    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "RATE_LIMITED"
    assert 1 <= int(refused.headers["retry-after"]) <= 3600


async def test_housekeeping_forgets_windows_that_have_passed(
    make_settings: Callable[..., Settings],
) -> None:
    async with running_api(make_settings(login_failures_per_account="3/minute")) as api:
        now = hold_attempts_clock(api.app)
        await api.register("target@example.com")
        wrong = await api.client.post(
            "/auth/login", json={"email": "target@example.com", "password": "not it at all"}
        )
        assert wrong.status_code == 401
        db = api.app.state.services.db

        async def windows() -> int:
            async with db.reader() as session:
                return int(await session.scalar(select(func.count()).select_from(AttemptCounter)))

        kept = await windows()
        async with db.writer() as session:
            await attempts.prune(session, now=now)
        assert await windows() == kept > 0  # the current windows still count
        async with db.writer() as session:
            await attempts.prune(session, now=now + 3600)
        assert await windows() == 0
