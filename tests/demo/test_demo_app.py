"""The demo app without a browser: the sign-in flow, and the hooks' subscription lifetimes."""

from __future__ import annotations

import re
import stat
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
import solara
from asgi_lifespan import LifespanManager
from starlette.testclient import TestClient, WebSocketDenialResponse

from pyairtable_demo import create_app
from pyairtable_demo._runtime import LoopThread, current
from pyairtable_integration import PyAirtableIntegration, create_integration
from pyairtable_integration.offline._store import OutboxStore
from pyairtable_integration.ui.solara import PyAirtableProvider, use_records

from ..client.conftest import BASE_URL, running_backend
from ..server.backend import PASSWORD, build_settings
from ..server.live import Live, live_server

MOUNTS = 25


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    async with live_server(build_settings(None, tmp_path / "data")) as running:
        yield running


@asynccontextmanager
async def _demo(live: Live, tmp_path: Path) -> AsyncIterator[httpx2.AsyncClient]:
    """The demo app on ``live``'s backend, and a browser (a cookie-keeping client) on it."""
    app = create_app(api_url=f"{live.origin}/api/v1", data_dir=tmp_path / "app")
    async with (
        LifespanManager(app, startup_timeout=60),
        httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://demo.test"
        ) as browser,
    ):
        yield browser


@pytest.mark.anyio
async def test_signing_in_through_the_login_page_reaches_the_app_and_a_wrong_password_says_so(
    live: Live, tmp_path: Path
) -> None:
    email = (await live.api.register())["email"]
    async with _demo(live, tmp_path) as browser:
        signed_out = await browser.get("/")
        assert signed_out.status_code == 303
        assert signed_out.headers["location"] == "/login"

        async def login_form() -> dict[str, str]:
            page = await browser.get("/login")
            assert page.status_code == 200
            for selector in ("pa-login-email", "pa-login-password", "pa-login-submit"):
                assert f'class="{selector}"' in page.text
            match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert match is not None
            return {"csrf_token": match.group(1), "next": "/", "error_next": "/login"}

        wrong = await browser.post(
            "/auth/login", data={**await login_form(), "email": email, "password": "nope!"}
        )
        assert wrong.status_code == 303
        assert wrong.headers["location"] == "/login?error=AUTH_ERROR"
        told = await browser.get(wrong.headers["location"])
        assert 'class="pa-login-error"' in told.text
        assert "Wrong email or password." in told.text

        right = await browser.post(
            "/auth/login", data={**await login_form(), "email": email, "password": PASSWORD}
        )
        assert right.status_code == 303
        assert right.headers["location"] == "/"
        page = await browser.get("/")
        assert page.status_code == 200
        assert "solara" in page.text.lower()
        # Signed in, the login page sends the browser on to the app.
        again = await browser.get("/login")
        assert again.status_code == 303
        assert again.headers["location"] == "/"


async def _sign_in(browser: httpx2.AsyncClient, email: str) -> None:
    page = await browser.get("/login")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match is not None
    form = {"csrf_token": match.group(1), "next": "/", "email": email, "password": PASSWORD}
    signed_in = await browser.post("/auth/login", data=form)
    assert signed_in.headers["location"] == "/"


@pytest.mark.anyio
async def test_signing_out_needs_the_sessions_csrf_token(live: Live, tmp_path: Path) -> None:
    email = (await live.api.register())["email"]
    async with _demo(live, tmp_path) as browser:
        await _sign_in(browser, email)
        # Another site's form can post here, but cannot know the session's token.
        for forged in ({}, {"csrf_token": "nonce.mac"}):
            refused = await browser.post("/signout", data=forged)
            assert refused.status_code == 403
            assert (await browser.get("/")).status_code == 200  # still signed in
        token = browser.cookies["pyairtable_csrf"]  # issued for this session at sign-in
        signed_out = await browser.post("/signout", data={"csrf_token": token})
        assert signed_out.status_code == 303
        assert (await browser.get("/")).headers["location"] == "/login"


@pytest.mark.anyio
async def test_pages_set_a_content_security_policy_and_refuse_framing(
    live: Live, tmp_path: Path
) -> None:
    email = (await live.api.register())["email"]
    async with _demo(live, tmp_path) as browser:
        login = await browser.get("/login")
        await _sign_in(browser, email)
        page = await browser.get("/")
    assert page.status_code == 200
    for answer in (login, page):
        policy = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy
        assert "default-src" in policy
        assert answer.headers["x-frame-options"] == "DENY"
    assert "script-src" not in login.headers["content-security-policy"]  # no script at all


def test_the_solara_socket_refuses_another_sites_origin(tmp_path: Path) -> None:
    """Cross-site WebSocket hijacking: another site's page may not open the app's socket."""
    app = create_app(api_url="http://127.0.0.1:9/api/v1", data_dir=tmp_path / "app")
    path = "/jupyter/api/kernels/k1/channels?session_id=p1"
    with TestClient(app) as client:  # its sockets go to ws://testserver
        foreign = {"origin": "http://evil.example"}
        with (
            pytest.raises(WebSocketDenialResponse) as refused,
            client.websocket_connect(path, headers=foreign),
        ):
            pass
        assert refused.value.status_code == 403
        # The app's own pages get through to Solara, which accepts the socket.
        with client.websocket_connect(path, headers={"origin": "http://testserver"}) as ws:
            ws.close()


def test_the_apps_folder_secret_and_outboxes_are_readable_by_their_owner_only(
    tmp_path: Path,
) -> None:
    """Issue 13: the demo's data folder 0700, its cookie secret and each outbox file 0600."""
    data_dir = tmp_path / "app"
    create_app(api_url="http://127.0.0.1:9/api/v1", data_dir=data_dir)
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    secrets_written = [path for path in data_dir.iterdir() if path.is_file()]
    assert secrets_written
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in secrets_written)
    outbox = current().outbox_path("usr" + "0" * 16)
    OutboxStore(outbox).close()
    assert stat.S_IMODE(outbox.stat().st_mode) == 0o600
    assert stat.S_IMODE(outbox.parent.stat().st_mode) == 0o700


class _Stack:
    """The backend in-process and a signed-in integration, both on a ``LoopThread``."""

    def __init__(self, tmp_path: Path) -> None:
        self.thread = LoopThread(name="test-demo-hooks")
        self._exits = AsyncExitStack()
        self.pa, self.table_id = self.thread.run(self._start(tmp_path))

    async def _start(self, tmp_path: Path) -> tuple[PyAirtableIntegration, str]:
        backend = await self._exits.enter_async_context(running_backend(tmp_path / "data"))
        owner, table = await backend.api.new_table()
        pa = create_integration(
            base_url=BASE_URL,
            http_transport=backend.transport(),
            environ={},
            features={"enable_realtime": False},
        )
        await pa.initialize()
        self._exits.push_async_callback(pa.aclose)
        await pa.auth.login(owner.email, PASSWORD)
        await pa.services.record.create_record(table["id"], {"Name": "first"})
        return pa, str(table["id"])

    def settle(self) -> None:
        """Wait until everything the hooks handed to the loop so far has run."""

        async def fetches_done() -> None:
            await self.pa.live.settle()

        self.thread.run(fetches_done())

    def close(self) -> None:
        self.thread.run(self._exits.aclose())
        self.thread.stop()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[_Stack]:
    running = _Stack(tmp_path)
    yield running
    running.close()


def test_mounting_and_unmounting_use_records_many_times_leaves_no_observer(
    stack: _Stack,
) -> None:
    seen: list[Any] = []

    @solara.component
    def Records() -> None:
        state = use_records(stack.table_id, sort=[{"field": "Name", "direction": "asc"}])
        seen.append(state)
        solara.Text(str(len(state.data or [])))

    query = stack.thread.run(_records_query(stack))
    for _ in range(MOUNTS):
        _box, rc = solara.render(
            PyAirtableProvider(stack.pa, stack.thread.loop, children=[Records()]),
            handle_error=False,
        )
        stack.settle()
        assert query.observer_count == 1
        rc.close()
        stack.settle()
        assert query.observer_count == 0
    # The listener reached the component: the records arrived while it was mounted.
    assert any(state.status == "success" and len(state.data) == 1 for state in seen)


def test_two_components_share_one_query_and_release_it_together(stack: _Stack) -> None:
    @solara.component
    def Records() -> None:
        use_records(stack.table_id, sort=[{"field": "Name", "direction": "asc"}])

    query = stack.thread.run(_records_query(stack))
    _box, rc = solara.render(
        PyAirtableProvider(stack.pa, stack.thread.loop, children=[Records(), Records()]),
        handle_error=False,
    )
    stack.settle()
    assert query.observer_count == 2
    rc.close()
    stack.settle()
    assert query.observer_count == 0


async def _records_query(stack: _Stack) -> Any:
    return stack.pa.live.records(stack.table_id, sort=[{"field": "Name", "direction": "asc"}])
