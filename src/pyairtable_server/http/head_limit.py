"""Refuse URLs longer than contract §6 allows (64 KiB), and request heads longer than the
server reads, with the error envelope.

The HTTP server (``server_protocol``) refuses a head that grows past ``MAX_HEAD_BYTES`` while it
is still arriving; one that arrives whole in a single read gets through it, so the same limit is
checked here too. URLs between 64 KiB and that limit reach this check and are told to use
``POST /records/query``.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import envelope, request_id_of
from .server_protocol import MAX_HEAD_BYTES, MAX_URL_BYTES

URL_TOO_LONG = (
    f"The URL is longer than {MAX_URL_BYTES // 1024} KiB: send the query as a JSON body to "
    "POST /records/query."
)
HEAD_TOO_LONG = f"The request's headers are longer than {MAX_HEAD_BYTES // 1024} KiB."


class HeadLimitMiddleware:
    """Answers 400 ``VALIDATION_ERROR`` (details ``{"max_bytes"}``) for a URL or a head over
    its limit; a WebSocket handshake that long is closed with 1009."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_url_bytes: int = MAX_URL_BYTES,
        max_head_bytes: int = MAX_HEAD_BYTES,
    ) -> None:
        self.app = app
        self.max_url_bytes = max_url_bytes
        self.max_head_bytes = max_head_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope.get("raw_path") or scope["path"].encode()
        url = len(path) + len(scope.get("query_string", b""))
        head = url + sum(len(name) + len(value) + 4 for name, value in scope["headers"])
        refusal = None
        if url > self.max_url_bytes:
            refusal = (URL_TOO_LONG, self.max_url_bytes)
        elif head > self.max_head_bytes:
            refusal = (HEAD_TOO_LONG, self.max_head_bytes)
        if refusal is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1009})
        else:
            message, limit = refusal
            response = envelope(
                400,
                "VALIDATION_ERROR",
                message,
                request_id=request_id_of(scope),
                details={"max_bytes": limit},
            )
            await response(scope, receive, send)
