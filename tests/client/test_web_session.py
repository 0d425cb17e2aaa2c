"""Browser sessions for Starlette and FastAPI apps, driven through real apps on the real backend.

Each test builds a small app (Starlette or FastAPI) whose integration talks to the in-process
reference backend, and drives it with a cookie-keeping client over ASGI, as a browser would.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Annotated, Any

import httpx2
import pytest
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from pyairtable_integration import ConfigurationError, PyAirtableIntegration, create_integration
from pyairtable_integration.testing import PASSWORD, FakeClock
from pyairtable_integration.web import (
    MemorySessionStore,
    PyAirtableAuth,
    WebSession,
    get_server_auth_session,
    require_auth,
)
from pyairtable_integration.web._cookie import CookieSealer
from pyairtable_integration.web._csrf import ANONYMOUS, CsrfTokens

from .conftest import BASE_URL, Backend

pytestmark = pytest.mark.anyio

SECRET = "web-session-test-secret-" + "s" * 32
ACCESS_TOKEN_LIFETIME = 15 * 60  # the backend's default


# --- the apps under test -------------------------------------------------------------------


def starlette_app(auth: PyAirtableAuth) -> Starlette:
    """A Starlette app with endpoints guarded by ``require_auth(...).protect``."""

    async def me(request: Request) -> Response:
        web = await get_server_auth_session(request)
        assert web is not None
        page = await web.services.workspace.get_workspaces()
        return JSONResponse({"user_id": web.user.id, "workspaces": page.pagination.total})

    async def create_workspace(request: Request) -> Response:
        web = await get_server_auth_session(request)
        assert web is not None
        workspace = await web.services.workspace.create_workspace(name="From the web")
        return JSONResponse({"id": workspace.id}, status_code=201)

    async def admin(request: Request) -> Response:
        return JSONResponse({"admin": True})

    async def workspace_write(request: Request) -> Response:
        return JSONResponse({"workspace_id": request.path_params["workspace_id"]})

    app = Starlette(
        routes=[
            Route("/me", require_auth().protect(me)),
            Route("/workspaces", require_auth().protect(create_workspace), methods=["POST"]),
            Route("/admin", require_auth(roles=("admin",)).protect(admin)),
            Route(
                "/workspaces/{workspace_id}/records",
                require_auth(permission="record:write").protect(workspace_write),
                methods=["POST"],
            ),
        ]
    )
    auth.install(app)
    return app


# FastAPI resolves these annotations by name, so they live at module level.
SignedIn = Annotated[WebSession, Depends(require_auth())]
Admin = Annotated[WebSession, Depends(require_auth(roles=("admin",)))]
RecordWriter = Annotated[WebSession, Depends(require_auth(permission="record:write"))]


def fastapi_app(auth: PyAirtableAuth) -> FastAPI:
    """The same endpoints in FastAPI, guarded with ``Depends(require_auth(...))``."""
    app = FastAPI()

    @app.get("/me")
    async def me(web: SignedIn) -> dict[str, Any]:
        page = await web.services.workspace.get_workspaces()
        return {"user_id": web.user.id, "workspaces": page.pagination.total}

    @app.post("/workspaces", status_code=201)
    async def create_workspace(web: SignedIn) -> dict[str, Any]:
        workspace = await web.services.workspace.create_workspace(name="From the web")
        return {"id": workspace.id}

    @app.get("/admin")
    async def admin(web: Admin) -> dict[str, Any]:
        return {"admin": True}

    @app.post("/workspaces/{workspace_id}/records")
    async def workspace_write(workspace_id: str, web: RecordWriter) -> dict[str, Any]:
        return {"workspace_id": workspace_id}

    auth.install(app)
    return app


AppFactory = Callable[[PyAirtableAuth], Starlette]
APPS: dict[str, AppFactory] = {"starlette": starlette_app, "fastapi": fastapi_app}


@dataclass
class Site:
    """An app under test, its auth object and integration, and how to open browsers on it."""

    auth: PyAirtableAuth
    integration: PyAirtableIntegration
    clock: FakeClock
    app: Starlette
    backend: Backend
    browsers: list[httpx2.AsyncClient]

    def browser(self) -> httpx2.AsyncClient:
        """A new browser: its own cookie jar, on https so Secure cookies are kept and sent."""
        client = httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=self.app), base_url="https://testserver"
        )
        self.browsers.append(client)
        return client

    async def user(self) -> str:
        """A newly registered user's e-mail."""
        email = f"web-{secrets.token_hex(4)}@example.com"
        await self.backend.api.register(email)
        return email

    async def signed_in(self) -> tuple[httpx2.AsyncClient, str, dict[str, Any]]:
        """A browser signed in as a new user: the browser, its CSRF token, the login answer."""
        browser = self.browser()
        email = await self.user()
        token = await csrf_token(browser)
        answer = await browser.post(
            "/auth/login",
            json={"email": email, "password": PASSWORD},
            headers={"X-CSRF-Token": token},
        )
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return browser, body["csrf_token"], body

    def opened(self, browser: httpx2.AsyncClient) -> Any:
        """What the browser's session cookie holds, opened with the app's key."""
        return self.auth.open_cookie(browser.cookies.get("pyairtable_session"))


SiteFactory = Callable[..., Awaitable[Site]]


@pytest.fixture
async def make_site(backend: Backend) -> AsyncIterator[SiteFactory]:
    """Build an app (``kind``: starlette or fastapi) on a fresh integration and auth object."""
    sites: list[Site] = []

    async def make(kind: str = "starlette", **options: Any) -> Site:
        clock = FakeClock()
        integration = create_integration(
            base_url=BASE_URL,
            retry_delay=0,
            http_transport=backend.transport(),
            environ={},
            clock=clock,
        )
        auth = PyAirtableAuth(integration, secret_key=SECRET, **options)
        site = Site(auth, integration, clock, APPS[kind](auth), backend, [])
        sites.append(site)
        return site

    yield make
    for site in sites:
        for browser in site.browsers:
            await browser.aclose()
        await site.integration.aclose()


async def csrf_token(browser: httpx2.AsyncClient) -> str:
    answer = await browser.get("/auth/csrf")
    assert answer.status_code == 200
    token: str = answer.json()["csrf_token"]
    assert browser.cookies.get("pyairtable_csrf") == token
    return token


def replace_cookie(browser: httpx2.AsyncClient, name: str, value: str) -> None:
    """Put ``value`` in the browser's cookie ``name``, as a script or a sibling site could."""
    domains = {cookie.domain for cookie in browser.cookies.jar if cookie.name == name}
    for domain in domains:
        browser.cookies.delete(name, domain=domain)
    browser.cookies.set(name, value, domain=domains.pop() if domains else "testserver.local")


def set_cookies(response: httpx2.Response) -> dict[str, str]:
    """The response's Set-Cookie headers by cookie name."""
    cookies: dict[str, str] = {}
    for header in response.headers.get_list("set-cookie"):
        cookies[header.split("=", 1)[0]] = header
    return cookies


def error_type(response: httpx2.Response) -> str:
    body: dict[str, Any] = response.json()
    return str(body["error"]["type"])


async def backend_refresh_status(backend: Backend, refresh_token: str) -> int:
    answer = await backend.api.client.post("/auth/refresh", json={"refresh_token": refresh_token})
    return answer.status_code


# --- sign-in, the session route, protected routes -------------------------------------------


@pytest.mark.parametrize("kind", ["starlette", "fastapi"])
async def test_login_sets_an_encrypted_httponly_samesite_cookie_that_hides_the_tokens(
    make_site: SiteFactory, kind: str
) -> None:
    site = await make_site(kind)
    browser = site.browser()
    email = await site.user()
    token = await csrf_token(browser)

    answer = await browser.post(
        "/auth/login",
        json={"email": email, "password": PASSWORD},
        headers={"X-CSRF-Token": token},
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["user"]["email"] == email
    header = set_cookies(answer)["pyairtable_session"]
    for attribute in ("HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age="):
        assert attribute in header
    assert "HttpOnly" not in set_cookies(answer)["pyairtable_csrf"]  # page scripts read it
    _, session = site.opened(browser)
    assert session.user.email == email
    raw = browser.cookies["pyairtable_session"]
    assert session.tokens.access_token not in raw
    assert session.tokens.refresh_token not in raw
    assert session.tokens.access_token.split(".")[1] not in raw  # not even the JWT's claims
    # The app's own integration stays signed out: browser sessions are not global state.
    assert site.integration.auth.session is None


async def test_a_wrong_password_is_401_and_sets_no_session_cookie(make_site: SiteFactory) -> None:
    site = await make_site()
    browser = site.browser()
    email = await site.user()
    token = await csrf_token(browser)

    answer = await browser.post(
        "/auth/login",
        json={"email": email, "password": "not the password"},
        headers={"X-CSRF-Token": token},
    )

    assert answer.status_code == 401
    assert error_type(answer) == "AUTH_ERROR"
    assert "pyairtable_session" not in set_cookies(answer)


async def test_login_accepts_an_html_form_with_the_csrf_field(make_site: SiteFactory) -> None:
    site = await make_site()
    browser = site.browser()
    email = await site.user()
    token = await csrf_token(browser)

    answer = await browser.post(
        "/auth/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )

    assert answer.status_code == 200, answer.text
    assert (await browser.get("/auth/session")).json()["user"]["email"] == email


async def test_session_route_answers_the_user_when_signed_in_and_null_when_not(
    make_site: SiteFactory,
) -> None:
    site = await make_site()
    assert (await site.browser().get("/auth/session")).json() is None

    browser, _, login = await site.signed_in()
    session = (await browser.get("/auth/session")).json()

    assert session["user"]["id"] == login["user"]["id"]
    assert session["expires_at"].endswith("Z")


@pytest.mark.parametrize("kind", ["starlette", "fastapi"])
async def test_a_protected_route_acts_as_the_signed_in_user_and_is_401_when_signed_out(
    make_site: SiteFactory, kind: str
) -> None:
    site = await make_site(kind)
    signed_out = await site.browser().get("/me")
    assert signed_out.status_code == 401
    assert error_type(signed_out) == "AUTH_ERROR"

    first, _, first_login = await site.signed_in()
    second, _, second_login = await site.signed_in()
    assert (await first.get("/me")).json() == {
        "user_id": first_login["user"]["id"],
        "workspaces": 0,
    }
    assert (await second.get("/me")).json()["user_id"] == second_login["user"]["id"]


# --- CSRF -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["starlette", "fastapi"])
async def test_a_state_changing_request_needs_the_sessions_csrf_token(
    make_site: SiteFactory, kind: str
) -> None:
    site = await make_site(kind)
    browser, token, _ = await site.signed_in()

    missing = await browser.post("/workspaces")
    wrong = await browser.post("/workspaces", headers={"X-CSRF-Token": token[:-2] + "xx"})
    right = await browser.post("/workspaces", headers={"X-CSRF-Token": token})

    assert (missing.status_code, error_type(missing)) == (403, "CSRF_ERROR")
    assert (wrong.status_code, error_type(wrong)) == (403, "CSRF_ERROR")
    assert right.status_code == 201, right.text
    assert (await browser.get("/me")).json()["workspaces"] == 1


async def test_login_and_logout_refuse_a_request_without_a_csrf_token(
    make_site: SiteFactory,
) -> None:
    site = await make_site()
    email = await site.user()
    browser = site.browser()
    await csrf_token(browser)

    login = await browser.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert (login.status_code, error_type(login)) == (403, "CSRF_ERROR")

    signed_in, _, _ = await site.signed_in()
    logout = await signed_in.post("/auth/logout")
    assert (logout.status_code, error_type(logout)) == (403, "CSRF_ERROR")
    assert (await signed_in.get("/auth/session")).json() is not None


async def test_a_csrf_token_of_another_session_is_refused_even_when_planted_in_the_cookie(
    make_site: SiteFactory,
) -> None:
    """A token valid for the attacker's own session does not work for the victim's."""
    site = await make_site()
    attacker, attacker_token, _ = await site.signed_in()
    victim, _, _ = await site.signed_in()
    replace_cookie(victim, "pyairtable_csrf", attacker_token)

    answer = await victim.post("/workspaces", headers={"X-CSRF-Token": attacker_token})

    assert (answer.status_code, error_type(answer)) == (403, "CSRF_ERROR")
    assert (await attacker.post("/workspaces", headers={"X-CSRF-Token": attacker_token})).is_success


async def test_the_token_from_before_sign_in_stops_working_after_it(
    make_site: SiteFactory,
) -> None:
    site = await make_site()
    browser = site.browser()
    email = await site.user()
    anonymous_token = await csrf_token(browser)
    login = await browser.post(
        "/auth/login",
        json={"email": email, "password": PASSWORD},
        headers={"X-CSRF-Token": anonymous_token},
    )
    new_token = login.json()["csrf_token"]
    assert new_token != anonymous_token
    assert browser.cookies["pyairtable_csrf"] == new_token

    replace_cookie(browser, "pyairtable_csrf", anonymous_token)
    stale = await browser.post("/workspaces", headers={"X-CSRF-Token": anonymous_token})
    assert stale.status_code == 403


# --- cookies that cannot be trusted ---------------------------------------------------------


async def test_a_tampered_session_cookie_is_signed_out_and_cleared_not_an_error(
    make_site: SiteFactory,
) -> None:
    site = await make_site()
    browser, _, _ = await site.signed_in()
    value = browser.cookies["pyairtable_session"]
    middle = len(value) // 2
    flipped = value[:middle] + ("A" if value[middle] != "A" else "B") + value[middle + 1 :]
    replace_cookie(browser, "pyairtable_session", flipped)

    session = await browser.get("/auth/session")
    protected = await browser.get("/me")

    assert session.status_code == 200
    assert session.json() is None
    assert "Max-Age=0" in set_cookies(session)["pyairtable_session"]
    assert protected.status_code == 401


async def test_a_cookie_sealed_with_another_secret_or_too_old_is_signed_out(
    make_site: SiteFactory,
) -> None:
    site = await make_site(max_age=3600)
    browser, _, _ = await site.signed_in()
    genuine = browser.cookies["pyairtable_session"]
    forged = CookieSealer(["another-secret-" + "z" * 32]).seal(
        {"v": 1, "sid": "x", "s": "{}"}, now=int(site.clock.now().timestamp())
    )
    replace_cookie(browser, "pyairtable_session", forged)
    assert (await browser.get("/auth/session")).json() is None

    replace_cookie(browser, "pyairtable_session", genuine)
    site.clock.advance(3601)
    assert (await browser.get("/auth/session")).json() is None


# --- refresh --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["starlette", "fastapi"])
async def test_a_due_token_is_refreshed_once_for_concurrent_requests_and_the_cookie_renewed(
    make_site: SiteFactory, kind: str
) -> None:
    site = await make_site(kind)
    browser, _, _ = await site.signed_in()
    old_cookie = browser.cookies["pyairtable_session"]
    _, old_session = site.opened(browser)
    refreshes = site.backend.count("POST", "/api/v1/auth/refresh")
    site.clock.advance(ACCESS_TOKEN_LIFETIME - 30)  # inside the 60 s refresh margin

    answers = await asyncio.gather(*(browser.get("/me") for _ in range(8)))

    assert [answer.status_code for answer in answers] == [200] * 8
    assert site.backend.count("POST", "/api/v1/auth/refresh") == refreshes + 1
    assert site.auth.refresh_count == 1
    renewed = [set_cookies(answer).get("pyairtable_session") for answer in answers]
    assert all(header is not None and "HttpOnly" in header for header in renewed)
    _, new_session = site.opened(browser)
    assert new_session.tokens.refresh_token != old_session.tokens.refresh_token
    assert new_session.expires_at > old_session.expires_at

    # A request still carrying the old cookie (sent before the new one arrived) gets the same
    # new pair instead of replaying the spent refresh token, which would end the session.
    replace_cookie(browser, "pyairtable_session", old_cookie)
    late = await browser.get("/me")
    assert late.status_code == 200
    assert site.backend.count("POST", "/api/v1/auth/refresh") == refreshes + 1
    assert await backend_refresh_status(site.backend, new_session.tokens.refresh_token) == 200


async def test_a_session_the_backend_revoked_is_signed_out_at_its_next_refresh(
    make_site: SiteFactory,
) -> None:
    site = await make_site()
    browser, _, _ = await site.signed_in()
    _, session = site.opened(browser)
    revoked = await site.backend.api.client.post(
        "/auth/logout",
        json={"refresh_token": session.tokens.refresh_token},
        headers={"Authorization": session.tokens.authorization},
    )
    assert revoked.status_code == 204
    site.clock.advance(ACCESS_TOKEN_LIFETIME)

    answer = await browser.get("/me")

    assert answer.status_code == 401
    assert "Max-Age=0" in set_cookies(answer)["pyairtable_session"]
    assert (await browser.get("/auth/session")).json() is None


# --- logout ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["cookie", "server"])
async def test_logout_revokes_the_refresh_token_and_clears_the_cookie(
    make_site: SiteFactory, mode: str
) -> None:
    site = await make_site(mode=mode)
    browser, token, _ = await site.signed_in()
    sid, cookie_session = site.opened(browser)
    session = cookie_session if mode == "cookie" else await site.auth.store.load(sid)
    assert session is not None

    answer = await browser.post("/auth/logout", headers={"X-CSRF-Token": token})

    assert answer.status_code == 204
    assert "Max-Age=0" in set_cookies(answer)["pyairtable_session"]
    assert "pyairtable_session" not in browser.cookies
    assert await backend_refresh_status(site.backend, session.tokens.refresh_token) == 401
    assert (await browser.get("/auth/session")).json() is None
    assert await site.auth.store.load(sid) is None


# --- copies of a signed-out browser's cookie ------------------------------------------------


def copy_cookies(source: httpx2.AsyncClient, target: httpx2.AsyncClient) -> None:
    """Give ``target`` every cookie of ``source``, as a thief of the cookie jar would."""
    for cookie in source.cookies.jar:
        target.cookies.set(cookie.name, cookie.value or "", domain=cookie.domain)


@pytest.mark.parametrize("mode", ["cookie", "server"])
async def test_signing_out_ends_every_copy_of_the_cookie_csrf_and_all(
    make_site: SiteFactory, mode: str
) -> None:
    site = await make_site(mode=mode)
    browser, token, _ = await site.signed_in()
    thief = site.browser()
    copy_cookies(browser, thief)
    assert (await thief.get("/me")).status_code == 200  # a copy works while signed in

    assert (await browser.post("/auth/logout", headers={"X-CSRF-Token": token})).status_code == 204

    assert (await thief.get("/me")).status_code == 401
    assert (await thief.post("/workspaces", headers={"X-CSRF-Token": token})).status_code == 401
    assert (await thief.get("/auth/session")).json() is None


@pytest.mark.parametrize("mode", ["cookie", "server"])
async def test_a_sign_out_on_one_worker_ends_copies_on_another_within_the_revalidation_time(
    make_site: SiteFactory, mode: str
) -> None:
    """Two workers of one app (same secret, each its own memory; in server mode one store)."""
    shared = {"store": MemorySessionStore()} if mode == "server" else {}
    one = await make_site(mode=mode, revalidate_after=30, **shared)
    other = await make_site(mode=mode, revalidate_after=30, **shared)
    browser, token, _ = await one.signed_in()
    copy = other.browser()
    copy_cookies(browser, copy)
    assert (await copy.get("/me")).status_code == 200  # the other worker confirmed it just now

    assert (await browser.post("/auth/logout", headers={"X-CSRF-Token": token})).status_code == 204
    if mode == "server":  # the shared store forgot it: at once
        assert (await copy.get("/me")).status_code == 401
    other.clock.advance(30)

    assert (await copy.get("/me")).status_code == 401
    assert (await copy.post("/workspaces", headers={"X-CSRF-Token": token})).status_code == 401


async def test_a_session_ended_by_a_password_change_elsewhere_is_refused_after_revalidation(
    make_site: SiteFactory,
) -> None:
    site = await make_site(revalidate_after=0)
    browser, _, login = await site.signed_in()
    elsewhere = await site.backend.api.login(login["user"]["email"])
    changed = await site.backend.api.client.post(
        "/auth/change-password",
        json={"current_password": PASSWORD, "new_password": "another long secret"},
        headers=elsewhere.headers,
    )
    assert changed.status_code == 204

    answer = await browser.get("/me")

    assert answer.status_code == 401
    assert "Max-Age=0" in set_cookies(answer)["pyairtable_session"]


async def test_revalidation_asks_the_backend_at_most_once_per_interval(
    make_site: SiteFactory,
) -> None:
    site = await make_site(revalidate_after=30)
    browser, _, _ = await site.signed_in()
    asked = site.backend.count("GET", "/api/v1/auth/me")
    for _ in range(3):
        assert (await browser.get("/auth/session")).json() is not None
    assert site.backend.count("GET", "/api/v1/auth/me") == asked  # sign-in counts as confirmed
    site.clock.advance(30)
    for _ in range(3):
        assert (await browser.get("/auth/session")).json() is not None
    assert site.backend.count("GET", "/api/v1/auth/me") == asked + 1


# --- server-side sessions -------------------------------------------------------------------


async def test_server_mode_keeps_tokens_in_the_store_and_only_an_id_in_the_cookie(
    make_site: SiteFactory,
) -> None:
    store = MemorySessionStore()
    site = await make_site(mode="server", store=store)
    browser, token, login = await site.signed_in()

    sid, cookie_session = site.opened(browser)
    stored = await store.load(sid)
    assert cookie_session is None
    assert stored is not None
    assert stored.user.id == login["user"]["id"]
    raw = browser.cookies["pyairtable_session"]
    assert stored.tokens.refresh_token not in raw
    assert len(store) == 1
    assert (await browser.get("/me")).json()["user_id"] == login["user"]["id"]
    assert (await browser.post("/workspaces", headers={"X-CSRF-Token": token})).status_code == 201


async def test_server_mode_refreshes_once_and_keeps_the_new_tokens_in_the_store(
    make_site: SiteFactory,
) -> None:
    store = MemorySessionStore()
    site = await make_site(mode="server", store=store)
    browser, _, _ = await site.signed_in()
    sid, _ = site.opened(browser)
    before = await store.load(sid)
    assert before is not None
    refreshes = site.backend.count("POST", "/api/v1/auth/refresh")
    site.clock.advance(ACCESS_TOKEN_LIFETIME - 30)

    answers = await asyncio.gather(*(browser.get("/me") for _ in range(5)))

    assert [answer.status_code for answer in answers] == [200] * 5
    assert site.backend.count("POST", "/api/v1/auth/refresh") == refreshes + 1
    after = await store.load(sid)
    assert after is not None
    assert after.tokens.refresh_token != before.tokens.refresh_token
    assert site.opened(browser)[0] == sid  # the same session, renewed


async def test_a_server_session_missing_from_the_store_is_signed_out(
    make_site: SiteFactory,
) -> None:
    store = MemorySessionStore()
    site = await make_site(mode="server", store=store)
    browser, _, _ = await site.signed_in()
    sid, _ = site.opened(browser)
    await store.delete(sid)

    assert (await browser.get("/me")).status_code == 401


# --- roles and workspace permissions --------------------------------------------------------


@pytest.mark.parametrize("kind", ["starlette", "fastapi"])
async def test_a_missing_role_is_403(make_site: SiteFactory, kind: str) -> None:
    site = await make_site(kind)
    browser, _, login = await site.signed_in()
    assert login["user"]["role"] == "user"

    answer = await browser.get("/admin")

    assert (answer.status_code, error_type(answer)) == (403, "PERMISSION_DENIED")
    assert (await site.browser().get("/admin")).status_code == 401


@pytest.mark.parametrize("kind", ["starlette", "fastapi"])
async def test_a_workspace_permission_is_checked_for_the_browsers_user(
    make_site: SiteFactory, kind: str
) -> None:
    site = await make_site(kind)
    owner, owner_token, _ = await site.signed_in()
    viewer, viewer_token, viewer_login = await site.signed_in()
    created = await owner.post("/workspaces", headers={"X-CSRF-Token": owner_token})
    workspace_id = created.json()["id"]
    owner_actor = await site.backend.api.login(
        (await owner.get("/auth/session")).json()["user"]["email"]
    )
    viewer_actor = await site.backend.api.login(viewer_login["user"]["email"])
    await site.backend.api.add_member(owner_actor, workspace_id, viewer_actor, "viewer")
    outsider, outsider_token, _ = await site.signed_in()
    path = f"/workspaces/{workspace_id}/records"

    allowed = await owner.post(path, headers={"X-CSRF-Token": owner_token})
    read_only = await viewer.post(path, headers={"X-CSRF-Token": viewer_token})
    stranger = await outsider.post(path, headers={"X-CSRF-Token": outsider_token})

    assert allowed.json() == {"workspace_id": workspace_id}
    assert (read_only.status_code, error_type(read_only)) == (403, "PERMISSION_DENIED")
    assert (stranger.status_code, error_type(stranger)) == (403, "PERMISSION_DENIED")


# --- the pieces without I/O -----------------------------------------------------------------


def test_a_rotated_secret_still_opens_cookies_sealed_with_the_old_one() -> None:
    old = "the-old-secret-" + "o" * 32
    new = "the-new-secret-" + "n" * 32
    sealed = CookieSealer([old]).seal({"sid": "abc"}, now=1_000)

    assert CookieSealer([new, old]).open(sealed, max_age=60, now=1_010) == {"sid": "abc"}
    assert CookieSealer([new]).open(sealed, max_age=60, now=1_010) is None
    assert CookieSealer([old]).open(sealed, max_age=60, now=1_061) is None
    assert CookieSealer([old]).open("not a token", max_age=60, now=1_010) is None


def test_csrf_tokens_are_bound_to_their_session() -> None:
    tokens = CsrfTokens([SECRET])
    token = tokens.issue("session-1")

    assert tokens.valid(token, "session-1")
    assert not tokens.valid(token, "session-2")
    assert not tokens.valid(token, ANONYMOUS)
    assert not tokens.valid(None, "session-1")
    assert not tokens.valid("no-dot", "session-1")
    assert tokens.issue("session-1") != token  # a fresh nonce every time


async def test_wrong_options_fail_at_once_naming_each(backend: Backend) -> None:
    integration = create_integration(base_url=BASE_URL, environ={})
    try:
        with pytest.raises(ConfigurationError) as caught:
            PyAirtableAuth(integration, secret_key="short", mode="redis", same_site="sometimes")
    finally:
        await integration.aclose()
    assert set(caught.value.problems) == {"secret_key", "mode", "same_site"}


async def test_a_handler_without_the_middleware_is_told_how_to_install_it(
    backend: Backend,
) -> None:
    async def endpoint(request: Request) -> Response:
        await get_server_auth_session(request)
        return Response()

    app = Starlette(routes=[Route("/", endpoint)])
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="https://testserver"
    ) as client:
        with pytest.raises(RuntimeError, match=r"PyAirtableAuth\.install"):
            await client.get("/")


async def test_a_websocket_gets_the_session_and_its_handshake_carries_the_renewed_cookie(
    make_site: SiteFactory,
) -> None:
    """Driven at the ASGI seam: httpx2 speaks no WebSocket, the app is the real one."""

    async def socket(websocket: WebSocket) -> None:
        web = await get_server_auth_session(websocket)
        await websocket.accept()
        await websocket.send_json({"user_id": None if web is None else web.user.id})
        await websocket.close()

    store = MemorySessionStore()
    site = await make_site(mode="server", store=store)
    site.app.router.routes.append(WebSocketRoute("/socket", socket))
    browser, _, login = await site.signed_in()
    sid, _ = site.opened(browser)
    before = await store.load(sid)
    assert before is not None
    site.clock.advance(ACCESS_TOKEN_LIFETIME - 30)
    cookie = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    scope: dict[str, Any] = {
        "type": "websocket",
        "path": "/socket",
        "raw_path": b"/socket",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"cookie", cookie.encode())],
        "scheme": "wss",
        "server": ("testserver", 443),
        "client": ("127.0.0.1", 1234),
        "subprotocols": [],
        "root_path": "",
    }
    incoming: list[dict[str, Any]] = [{"type": "websocket.connect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    await site.app(scope, receive, send)

    accept = next(message for message in sent if message["type"] == "websocket.accept")
    cookies = [value for name, value in accept.get("headers", []) if name == b"set-cookie"]
    assert any(value.startswith(b"pyairtable_session=") for value in cookies)
    text = next(message for message in sent if message["type"] == "websocket.send")["text"]
    assert text == json.dumps({"user_id": login["user"]["id"]}, separators=(",", ":"))
    after = await store.load(sid)
    assert after is not None
    assert after.tokens.refresh_token != before.tokens.refresh_token


async def test_signing_in_again_ends_the_browsers_previous_session(make_site: SiteFactory) -> None:
    site = await make_site()
    browser, token, _ = await site.signed_in()
    _, first = site.opened(browser)
    email = await site.user()

    again = await browser.post(
        "/auth/login",
        json={"email": email, "password": PASSWORD},
        headers={"X-CSRF-Token": token},
    )

    assert again.status_code == 200, again.text
    assert (await browser.get("/auth/session")).json()["user"]["email"] == email
    assert await backend_refresh_status(site.backend, first.tokens.refresh_token) == 401


async def test_a_form_login_with_next_redirects_there_and_a_failure_to_error_next(
    make_site: SiteFactory,
) -> None:
    site = await make_site()
    browser = site.browser()
    email = await site.user()
    token = await csrf_token(browser)
    form = {"csrf_token": token, "next": "/grid?x=1", "error_next": "/login"}

    wrong = await browser.post("/auth/login", data={**form, "email": email, "password": "nope"})
    assert wrong.status_code == 303
    assert wrong.headers["location"] == "/login?error=AUTH_ERROR"
    assert "pyairtable_session" not in set_cookies(wrong)

    right = await browser.post("/auth/login", data={**form, "email": email, "password": PASSWORD})
    assert right.status_code == 303
    assert right.headers["location"] == "/grid?x=1"
    assert "pyairtable_session" in set_cookies(right)
    assert (await browser.get("/auth/session")).json()["user"]["email"] == email


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "grid"])
async def test_a_next_that_leaves_the_site_is_ignored(make_site: SiteFactory, target: str) -> None:
    site = await make_site()
    browser = site.browser()
    email = await site.user()
    token = await csrf_token(browser)

    answer = await browser.post(
        "/auth/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token, "next": target},
    )

    assert answer.status_code == 200
    assert "location" not in answer.headers
