"""The sign-in routes: ``POST login``, ``POST logout``, ``GET session``, ``GET csrf``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from .._errors import ServiceError
from ._config import CSRF_FORM_FIELD
from ._dependencies import browser_session, check_csrf
from ._responses import WebAuthError
from ._session import WebSession

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def auth_routes(prefix: str) -> list[BaseRoute]:
    """The four routes, under ``prefix``."""
    return [
        Route(f"{prefix}/login", login, methods=["POST"], name="pyairtable_login"),
        Route(f"{prefix}/logout", logout, methods=["POST"], name="pyairtable_logout"),
        Route(f"{prefix}/session", session, methods=["GET"], name="pyairtable_session"),
        Route(f"{prefix}/csrf", csrf, methods=["GET"], name="pyairtable_csrf"),
    ]


async def login(request: Request) -> Response:
    """Sign the browser in with ``email`` and ``password`` (JSON or a form) and a CSRF token.

    Answers the user, when the access token expires, and the new CSRF token (sign-in starts a
    new session id, so the old token stops working); 401 for a wrong password, 403 without a
    valid CSRF token, 422 when a field is missing. A plain HTML form may add ``next`` (a path
    on this site): success then answers 303 to it; and ``error_next``: a failure answers 303
    to it with ``error=<TYPE>`` added to its query. Other URLs there are ignored.
    """
    browser = browser_session(request)
    fields: dict[str, Any] = {}
    try:
        fields = await _fields(request)
        check_csrf(request, browser, submitted=_text(fields.get(CSRF_FORM_FIELD)))
        email, password = _text(fields.get("email")), _text(fields.get("password"))
        if email is None or password is None:
            missing = {name: "required" for name in ("email", "password") if not fields.get(name)}
            raise WebAuthError(
                422,
                "VALIDATION_ERROR",
                "Give an email and a password.",
                details={"fields": missing},
            )
        client = browser.integration.for_session(None)
        try:
            signed_in = await client.auth.login(email, password)
        except ServiceError as exc:
            raise WebAuthError.from_service_error(exc) from exc
        previous = await browser.load()
        if previous is not None:
            await previous.auth.logout()  # signing in again ends the browser's older session
        web = await browser.sign_in(signed_in)
    except WebAuthError as exc:
        failed = _local_path(fields.get("error_next"))
        if failed is not None:
            joiner = "&" if "?" in failed else "?"
            return RedirectResponse(f"{failed}{joiner}error={exc.type}", status_code=303)
        return exc.response()
    target = _local_path(fields.get("next"))
    if target is not None:
        browser.issue_csrf()  # the new CSRF cookie still goes out with the redirect
        return RedirectResponse(target, status_code=303)
    return JSONResponse({**_describe(web), "csrf_token": browser.issue_csrf()})


async def logout(request: Request) -> Response:
    """Revoke the browser's session on the backend and clear its cookie (204); 403 without CSRF."""
    browser = browser_session(request)
    try:
        fields = await _fields(request)
        check_csrf(request, browser, submitted=_text(fields.get(CSRF_FORM_FIELD)))
    except WebAuthError as exc:
        return exc.response()
    await browser.sign_out()
    return Response(status_code=204)


async def session(request: Request) -> Response:
    """The signed-in user and when the access token expires, or ``null`` when signed out."""
    web = await browser_session(request).load()
    return JSONResponse(None if web is None else _describe(web))


async def csrf(request: Request) -> Response:
    """``{"csrf_token"}``, also set in the CSRF cookie: repeat it in ``X-CSRF-Token``."""
    return JSONResponse({"csrf_token": browser_session(request).issue_csrf()})


async def _fields(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in FORM_TYPES:
        form = await request.form()
        return {key: value for key, value in form.items() if isinstance(value, str)}
    if content_type == "application/json":
        try:
            body = await request.json()
        except ValueError as exc:
            raise WebAuthError(400, "VALIDATION_ERROR", "The body is not valid JSON.") from exc
        if isinstance(body, dict):
            return body
        raise WebAuthError(422, "VALIDATION_ERROR", "The body must be a JSON object.")
    return {}


def _local_path(value: Any) -> str | None:
    # Only paths on this site: an absolute or scheme-relative URL would be an open redirect.
    text = _text(value)
    if text is None or not text.startswith("/") or text.startswith("//") or "\\" in text:
        return None
    return text


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _describe(web: WebSession) -> dict[str, Any]:
    return {
        "user": web.user.model_dump(mode="json"),
        "expires_at": web.expires_at.isoformat().replace("+00:00", "Z"),
    }
