"""Refuse request bodies over the configured size with 413 (contract §9).

Checked twice: against ``Content-Length`` before anything is read, and by counting the bytes as
they stream in, for chunked bodies and for clients that lie about the length. A path may have a
limit of its own (file uploads: ``path_limits``) in place of the general one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import envelope, request_id_of


class _BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        exempt_prefixes: tuple[str, ...] = (),
        path_limits: Mapping[str, int] | None = None,
    ):
        self.app = app
        self.max_bytes = max_bytes
        self.exempt_prefixes = exempt_prefixes
        self.path_limits = dict(path_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        max_bytes = self.path_limits.get(scope["path"], self.max_bytes)
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None:
            try:
                too_large = int(declared) > max_bytes
            except ValueError:
                too_large = False  # the server rejects a malformed length before we see it
            if too_large:
                await self._refuse(scope, receive, send, max_bytes)
                return

        received = 0
        exceeded = False
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            # Frameworks may catch the read error and answer 400 themselves; ours wins.
            if exceeded:
                return
            response_started = True
            await send(message)

        with contextlib.suppress(_BodyTooLarge):
            await self.app(scope, counting_receive, guarded_send)
        if exceeded and not response_started:
            await self._refuse(scope, receive, send, max_bytes)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        response = envelope(
            413,
            "PAYLOAD_TOO_LARGE",
            f"The request body is larger than {max_bytes} bytes.",
            request_id=request_id_of(scope),
            details={"max_bytes": max_bytes},
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
