"""The demo's browser-facing protections: security headers on every page, same-origin sockets.

Solara's pages need inline scripts and ``eval`` (its Vue templates are compiled in the browser),
so the pages' Content-Security-Policy cannot forbid those; what it does forbid is everything
that is not this origin (scripts, styles, connections, forms, plugins) and any framing
(``frame-ancestors 'none'``, with ``X-Frame-Options: DENY`` for browsers without CSP 2). The
sign-in page needs no script at all and sends a stricter policy of its own.

Solara's kernel WebSocket carries the signed-in browser's page: a socket opened by another
site's page would ride on the browser's cookies (cross-site WebSocket hijacking), so a
handshake whose ``Origin`` is not this app's own host is refused before it reaches Solara.
Clients that send no ``Origin`` (not browsers) are let through: the attack needs a browser.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
#: For pages without scripts (the sign-in form): inline styles, posting to this site, no more.
FORM_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


class SecurityHeaders:
    """Adds the headers above to every answer; a ``Content-Security-Policy`` an endpoint set
    itself is kept."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _HEADERS.items():
                    headers.setdefault(name, value)
                headers.setdefault("content-security-policy", PAGE_POLICY)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SameOriginWebSockets:
    """Refuses (HTTP 403, before accepting) a WebSocket handshake from another origin."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and not _same_origin(Headers(scope=scope)):
            if "websocket.http.response" in scope.get("extensions", {}):
                # Starlette sends a response on a websocket scope as the handshake's answer.
                refusal = PlainTextResponse("Cross-origin WebSocket refused.", status_code=403)
                await refusal(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008})  # the server answers 403
            return
        await self.app(scope, receive, send)


def _same_origin(headers: Headers) -> bool:
    origin = headers.get("origin")
    if origin is None:
        return True
    host = headers.get("host", "")
    return bool(host) and urlsplit(origin).netloc.lower() == host.lower()
