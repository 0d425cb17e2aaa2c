"""Slow work outside the write turn (issue 13): while one request is stuck in its slow part (an
Argon2 hash or check, a webhook receiver that does not answer), another tenant's write goes
through.

The slow part is made to wait for the test, not for the clock: a password hasher that stops at a
gate, a receiver that holds its answer. Before the fix the whole request held SQLite's write turn,
so the other write could only finish after the release; the time limit around it only keeps a
failing run from hanging. (PostgreSQL has no write turn: there both halves always pass.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
import httpx2
import pytest
from sqlalchemy import text

from pyairtable_server.db.engine import Database
from pyairtable_server.security.passwords import Passwords
from pyairtable_server.settings import Settings

from .backend import PASSWORD, Actor, Api, running_api
from .webhook_kit import FAST_WEBHOOKS, add_record, add_webhook, eventually, rounds_on_demand
from .webhook_receiver import Receiver

pytestmark = pytest.mark.anyio
HANG_GUARD_SECONDS = 30
_SELECT_ONE = text("SELECT 1")


class GatedPasswords:
    """The app's hasher, except that once ``armed`` every hash and check first waits for
    ``gate``; ``entered`` is set when the first one does."""

    def __init__(self, real: Passwords) -> None:
        self._real = real
        self.armed = False
        self.entered = anyio.Event()
        self.gate = anyio.Event()

    async def _wait(self) -> None:
        if self.armed:
            self.entered.set()
            await self.gate.wait()

    async def hash(self, password: str) -> str:
        await self._wait()
        return await self._real.hash(password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        await self._wait()
        return await self._real.verify(stored_hash, password)

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._real.needs_rehash(stored_hash)


@pytest.fixture
async def api(make_settings: Callable[..., Settings]) -> AsyncIterator[Api]:
    async with running_api(make_settings(**FAST_WEBHOOKS)) as running:
        yield running


@pytest.fixture
def passwords(api: Api) -> GatedPasswords:
    services = api.app.state.services
    gated = GatedPasswords(services.passwords)
    services.passwords = gated
    return gated


async def _other_tenant_record(api: Api) -> tuple[Actor, str]:
    """A user with a table and a record of their own: the write that must not wait."""
    owner, table = await api.new_table([{"name": "Name", "type": "text"}])
    record = await add_record(api, owner, table["id"], "before")
    return owner, str(record["id"])


async def _meanwhile(
    api: Api,
    tenant: tuple[Actor, str],
    slow: Callable[[], Awaitable[httpx2.Response]],
    blocked: Callable[[], bool],
    release: Callable[[], None],
) -> httpx2.Response:
    """Start ``slow``; once ``blocked()`` says it is stuck, PATCH ``tenant``'s record, then
    ``release``. Asserts the PATCH answered 200 while ``slow`` was still stuck; ``slow``'s answer.
    """
    actor, record_id = tenant
    answers: dict[str, httpx2.Response] = {}

    async def run_slow() -> None:
        answers["slow"] = await slow()

    async def stuck_or_answered() -> bool:
        return blocked() or "slow" in answers

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(run_slow)
        try:
            await eventually(stuck_or_answered, within=HANG_GUARD_SECONDS)
            assert "slow" not in answers, answers["slow"].text
            with anyio.fail_after(HANG_GUARD_SECONDS):
                patched = await api.client.patch(
                    f"/records/{record_id}",
                    json={"fields": {"Name": "after"}},
                    headers=actor.headers,
                )
            slow_was_stuck = "slow" not in answers
        finally:
            release()
    assert patched.status_code == 200, patched.text
    assert patched.json()["fields"]["Name"] == "after"
    assert slow_was_stuck
    return answers["slow"]


async def _meanwhile_hashing(
    api: Api, passwords: GatedPasswords, slow: Callable[[], Awaitable[httpx2.Response]]
) -> httpx2.Response:
    """``_meanwhile`` with ``slow`` stuck at its first password hash or check."""
    tenant = await _other_tenant_record(api)
    passwords.armed = True
    return await _meanwhile(api, tenant, slow, passwords.entered.is_set, passwords.gate.set)


async def test_a_write_goes_through_while_a_sign_up_hashes_its_password(
    api: Api, passwords: GatedPasswords
) -> None:
    answer = await _meanwhile_hashing(
        api,
        passwords,
        lambda: api.client.post(
            "/auth/register",
            json={
                "email": "slow@example.com",
                "password": PASSWORD,
                "first_name": "S",
                "last_name": "L",
            },
        ),
    )
    assert answer.status_code == 201, answer.text
    await api.login("slow@example.com")


async def test_a_write_goes_through_while_a_login_checks_its_password(
    api: Api, passwords: GatedPasswords
) -> None:
    user = await api.register()
    answer = await _meanwhile_hashing(
        api,
        passwords,
        lambda: api.client.post("/auth/login", json={"email": user["email"], "password": PASSWORD}),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["user"]["id"] == user["id"]


async def test_a_write_goes_through_while_a_password_change_hashes(
    api: Api, passwords: GatedPasswords
) -> None:
    actor = await api.actor()
    answer = await _meanwhile_hashing(
        api,
        passwords,
        lambda: api.client.post(
            "/auth/change-password",
            json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
            headers=actor.headers,
        ),
    )
    assert answer.status_code == 204, answer.text
    await api.login(actor.email, "a brand new passphrase")


async def test_a_write_goes_through_while_a_webhook_test_waits_for_its_receiver(
    api: Api, receiver: Receiver
) -> None:
    rounds_on_demand(api)  # no background delivery reaches the held receiver
    owner = await api.actor()
    workspace = await api.workspace(owner)
    webhook = await add_webhook(api, owner, workspace["id"], receiver.url)
    tenant = await _other_tenant_record(api)
    receiver.hold()

    answer = await _meanwhile(
        api,
        tenant,
        lambda: api.client.post(f"/webhooks/{webhook['id']}/test", headers=owner.headers),
        lambda: receiver.held == 1,
        receiver.release,
    )
    assert answer.status_code == 200, answer.text
    delivery = answer.json()
    assert delivery["status"] == "succeeded" and delivery["last_status_code"] == 200
    [request] = receiver.received
    assert request.webhook_id == delivery["id"]


async def test_a_writer_session_holds_the_turn_only_inside_a_transaction(
    api: Api,
) -> None:
    # A handle of its own: the app's background writers take the app's turn at any moment.
    db = Database(api.app.state.services.db.url)
    try:
        if db.turn is None:
            pytest.skip("PostgreSQL has no write turn")
        async with db.writer() as session:
            assert db.turn.free
            await session.execute(_SELECT_ONE)
            assert not db.turn.free  # the transaction began: this session's turn
            await session.commit()
            assert db.turn.free
            await session.execute(_SELECT_ONE)
            assert not db.turn.free
            await session.rollback()
            assert db.turn.free
            await session.execute(_SELECT_ONE)
        assert db.turn.free  # closing ends the transaction, and the turn
    finally:
        await db.dispose()
