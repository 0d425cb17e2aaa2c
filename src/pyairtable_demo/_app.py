"""The demo app: a sign-in page, the web session routes, and the Solara pages at ``/``."""

from __future__ import annotations

import html
import os
import secrets
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from pyairtable_integration import create_integration
from pyairtable_integration.web import PyAirtableAuth
from pyairtable_integration.web._session import STATE_KEY, BrowserSession

from ._protection import FORM_POLICY, SameOriginWebSockets, SecurityHeaders
from ._runtime import DemoRuntime, LoopThread, install
from ._sessions import SharedSessionStore

PAGES_MODULE = "pyairtable_demo._pages:Page"
SECRET_FILE = "demo-app-secret"
LOGIN_ERRORS = {
    "AUTH_ERROR": "Wrong email or password.",
    "RATE_LIMITED": "Too many attempts; wait a minute and try again.",
    "VALIDATION_ERROR": "Give an email and a password.",
    "PERMISSION_DENIED": "The form expired; try again.",
}

_LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in - PyAirtable demo</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #f5f5f7; }}
form {{ max-width: 22rem; margin: 10vh auto; padding: 2rem; background: white;
       border-radius: 8px; box-shadow: 0 1px 4px rgba(0,0,0,.15); display: grid; gap: .75rem; }}
input, button {{ font: inherit; padding: .5rem; }}
.pa-login-error {{ color: #b00020; }}
</style></head>
<body><form method="post" action="{action}">
<h1>PyAirtable demo</h1>
{error}
<input type="hidden" name="csrf_token" value="{csrf}">
<input type="hidden" name="next" value="/">
<input type="hidden" name="error_next" value="/login">
<label>Email <input class="pa-login-email" type="email" name="email" required
  autocomplete="username"></label>
<label>Password <input class="pa-login-password" type="password" name="password" required
  autocomplete="current-password"></label>
<button class="pa-login-submit" type="submit">Sign in</button>
</form></body></html>
"""


def create_app(*, api_url: str, data_dir: Path) -> Starlette:
    """The demo app talking to the backend at ``api_url``, keeping its files in ``data_dir``.

    ``data_dir`` holds the app's cookie secret and each user's offline outbox.
    """
    os.environ.setdefault("SOLARA_APP", PAGES_MODULE)
    # Reacton's own opt-in renderer (pinned reacton 1.11, fuzz-tested against the default one):
    # a state change re-renders the components under it, not a walk of the whole page. On the
    # live path (an event → the grid's render → Solara's message) it halves the demo's CPU per
    # change (bench/demo_paint.py). REACTON_FAST=0 in the environment turns it off.
    os.environ.setdefault("REACTON_FAST", "1")
    # Imported here: solara reads SOLARA_APP when its server module is first imported. That
    # module imports websockets' deprecated legacy API, which is Solara's to move off.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import solara.server.starlette as solara_server

    # Solara wants SameSite=None for its own cookie (for iframes) and warns on every page over
    # plain http that it falls back to Lax; the demo is never embedded, so Lax is what it wants.
    warnings.filterwarnings(
        "ignore", message="Cookies with samesite=none require https", category=UserWarning
    )
    # The app's own folder: the cookie secret and the users' outboxes are for its owner only.
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    integration = create_integration(base_url=api_url, environ={})
    store = SharedSessionStore()
    auth = PyAirtableAuth(
        integration,
        secret_key=_secret(data_dir),
        mode="server",
        store=store,
        secure=False,  # the demo runs on plain http://127.0.0.1
    )
    runtime = DemoRuntime(api_url, data_dir, auth, store, LoopThread())
    install(runtime)

    async def login_page(request: Request) -> Response:
        browser: BrowserSession = request.scope["state"][STATE_KEY]
        if await browser.load() is not None:
            return RedirectResponse("/", status_code=303)
        problem = LOGIN_ERRORS.get(request.query_params.get("error", ""), "")
        if request.query_params.get("error") and not problem:
            problem = "Signing in failed; try again."
        error = f'<p class="pa-login-error" role="alert">{html.escape(problem)}</p>'
        page = _LOGIN_PAGE.format(
            action=f"{auth.config.prefix}/login",
            csrf=html.escape(browser.issue_csrf()),
            error=error if problem else "",
        )
        return HTMLResponse(
            page, headers={"Cache-Control": "no-store", "Content-Security-Policy": FORM_POLICY}
        )

    async def index(request: Request) -> Response:
        browser: BrowserSession = request.scope["state"][STATE_KEY]
        if await browser.load() is None:
            return RedirectResponse("/login", status_code=303)
        response: Response = await solara_server.root(request)
        response.headers["Cache-Control"] = "no-store"
        return response

    async def sign_out(request: Request) -> Response:
        """Sign out, given the page's CSRF token (403 without it: another site's form could
        otherwise sign the browser out)."""
        browser: BrowserSession = request.scope["state"][STATE_KEY]
        if browser.session_id is None:
            return RedirectResponse("/login", status_code=303)
        token = (await request.form()).get("csrf_token")
        # The page renders a token bound to the browser's session with the app's key (a
        # synchronizer token): another site can neither read the page nor make one.
        if not isinstance(token, str) or not browser.csrf_valid(token):
            return HTMLResponse(
                "<p>The sign-out form expired; reload the page and try again.</p>",
                status_code=403,
                headers={"Content-Security-Policy": FORM_POLICY},
            )
        await browser.sign_out()
        return RedirectResponse("/login", status_code=303)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        solara_server.on_startup()
        async with integration:
            try:
                yield
            finally:
                solara_server.on_shutdown()
                runtime.loop.stop()

    app = Starlette(
        routes=[
            Route("/login", login_page, methods=["GET"]),
            Route("/signout", sign_out, methods=["POST"]),
            Route("/", index, methods=["GET"]),
            Mount("/", app=solara_server.app),
        ],
        lifespan=lifespan,
    )
    auth.install(app)
    app.add_middleware(SameOriginWebSockets)
    app.add_middleware(SecurityHeaders)
    # install() appends its routes; they must come before the catch-all Solara mount.
    routes = app.router.routes
    mount = next(route for route in routes if isinstance(route, Mount))
    routes.remove(mount)
    routes.append(mount)
    return app


def _secret(data_dir: Path) -> str:
    """The app's cookie secret, made on first run and kept (private) in the data dir."""
    path = data_dir / SECRET_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    secret = secrets.token_urlsafe(48)
    # Created 0600 at once: written then narrowed, it would be readable by others in between.
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
        file.write(secret)
    return secret
