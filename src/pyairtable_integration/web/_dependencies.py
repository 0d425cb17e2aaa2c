"""What handlers use: ``get_server_auth_session`` and the ``require_auth`` guard."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from .._errors import APIConnectionError, AuthenticationError
from ._config import CSRF_HEADER
from ._csrf import submitted_matches
from ._responses import WebAuthError
from ._session import STATE_KEY, BrowserSession, WebSession

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
Endpoint = Callable[[Request], Awaitable[Response]]


def browser_session(connection: HTTPConnection) -> BrowserSession:
    """The request's browser session, put there by ``WebSessionMiddleware``.

    Raises:
        RuntimeError: the middleware is not installed (``PyAirtableAuth.install(app)``).
    """
    browser = connection.scope.get("state", {}).get(STATE_KEY)
    if not isinstance(browser, BrowserSession):
        raise RuntimeError(
            "No web session on this request: add the middleware with PyAirtableAuth.install(app)."
        )
    return browser


async def get_server_auth_session(connection: HTTPConnection) -> WebSession | None:
    """The signed-in session of the browser making this request, or None when signed out.

    Its access token is refreshed first when due (once, however many requests of the browser
    ask at the same time); the new tokens reach the browser with the answer.

    Raises:
        RuntimeError: the web session middleware is not installed.
    """
    return await browser_session(connection).load()


def check_csrf(request: Request, browser: BrowserSession, *, submitted: str | None = None) -> None:
    """Return when a state-changing request repeats the browser's CSRF token; safe methods pass.

    The token is read from the ``X-CSRF-Token`` header, else from ``submitted`` (a form field).

    Raises:
        WebAuthError: 403 ``CSRF_ERROR``, the token is missing, differs from the cookie's, or
            was not issued for this browser's session.
    """
    if request.method in SAFE_METHODS:
        return
    token = request.headers.get(CSRF_HEADER) or submitted
    if not submitted_matches(browser.csrf_cookie, token) or not browser.csrf_valid(token):
        raise WebAuthError(
            403,
            "CSRF_ERROR",
            f"This request needs the CSRF token (GET the csrf route, send it in {CSRF_HEADER}).",
        )


@dataclass(frozen=True)
class RequireAuth:
    """A guard: the request must come from a signed-in browser with the given role/permission.

    Use it as a FastAPI dependency (``session = Depends(require_auth())``), or on a Starlette
    endpoint with ``@require_auth(...).protect``. Signed out is 401 ``AUTH_ERROR``; a missing
    platform role or workspace permission is 403 ``PERMISSION_DENIED``; a state-changing
    request without the CSRF token is 403 ``CSRF_ERROR`` (unless ``csrf=False``).
    """

    roles: tuple[str, ...] = ()
    permission: str | None = None
    workspace_param: str = "workspace_id"
    csrf: bool = True

    async def __call__(self, request: Request) -> WebSession:
        """The signed-in session, when the request passes every check.

        Raises:
            WebAuthError: the request does not pass (401, 403, 422 or 503).
        """
        browser = browser_session(request)
        web = await browser.load()
        if web is None:
            raise WebAuthError(401, "AUTH_ERROR", "Sign in first.")
        if self.csrf:
            check_csrf(request, browser)
        if self.roles and not web.auth.has_role(*self.roles):
            raise WebAuthError(
                403,
                "PERMISSION_DENIED",
                f"This needs the role {' or '.join(self.roles)}.",
                details={"roles": list(self.roles)},
            )
        if self.permission is not None:
            await self._check_permission(request, web, self.permission)
        return web

    def protect(self, endpoint: Endpoint) -> Endpoint:
        """``endpoint`` answering the guard's refusal (401/403...) instead of running."""

        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            try:
                await self(request)
            except WebAuthError as exc:
                return exc.response()
            return await endpoint(request)

        return guarded

    async def _check_permission(self, request: Request, web: WebSession, permission: str) -> None:
        workspace_id = request.path_params.get(self.workspace_param) or request.query_params.get(
            self.workspace_param
        )
        if not isinstance(workspace_id, str) or not workspace_id:
            raise WebAuthError(
                422,
                "VALIDATION_ERROR",
                f"The request names no workspace ({self.workspace_param}).",
                details={"fields": {self.workspace_param: "required"}},
            )
        try:
            allowed = await web.auth.can(permission, workspace_id=workspace_id)
        except AuthenticationError as exc:
            raise WebAuthError(401, "AUTH_ERROR", "Sign in again.") from exc
        except APIConnectionError as exc:
            raise WebAuthError.from_service_error(exc) from exc
        if not allowed:
            raise WebAuthError(
                403,
                "PERMISSION_DENIED",
                f"You need {permission} in this workspace.",
                details={"permission": permission, "workspace_id": workspace_id},
            )


def require_auth(
    *,
    roles: Sequence[str] = (),
    permission: str | None = None,
    workspace_param: str = "workspace_id",
    csrf: bool = True,
) -> RequireAuth:
    """A guard for routes that need a signed-in browser; see ``RequireAuth``.

    ``roles`` are platform roles (``"admin"``); ``permission`` (``"record:write"``) is checked
    in the workspace named by the path or query parameter ``workspace_param``.
    """
    return RequireAuth(
        roles=tuple(roles), permission=permission, workspace_param=workspace_param, csrf=csrf
    )
