"""A transport wrapper that injects faults into chosen requests and records every request.

Wrap the real transport (``httpx2.ASGITransport`` on an in-process backend, or the network's)
and pass it to ``create_integration(http_transport=...)``. Rules pick requests by method and
path and say what goes wrong and how many times; a request no rule picks goes through
untouched. Every request is recorded with its headers, so a test can check that retries carried
the same ``X-Request-ID`` and ``Idempotency-Key``::

    faults = FaultTransport(backend_transport)
    faults.add(reset(), method="POST", path="/workspaces")   # applied, then the answer is lost
    faults.add(status(503, retry_after=2), method="GET", path="/records", times=3)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

import httpx2

Forward = Callable[[], Awaitable[httpx2.Response]]

_TYPES_BY_STATUS = {
    400: "VALIDATION_ERROR",
    401: "AUTH_ERROR",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    503: "SERVICE_UNAVAILABLE",
}


class Fault:
    """What happens to a request a rule picked; subclasses decide.

    ``respond`` gets the request and ``forward``, which sends it on to the wrapped transport;
    it returns the answer the client sees, or raises the transport error the client sees.
    """

    name = "fault"

    async def respond(self, request: httpx2.Request, forward: Forward) -> httpx2.Response:
        """The answer for ``request``; the base class passes it through unchanged."""
        return await forward()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class _Passthrough(Fault):
    name = "passthrough"


class _Raise(Fault):
    def __init__(
        self, name: str, error: type[httpx2.TransportError], message: str, *, forward: bool
    ) -> None:
        self.name = name
        self._error = error
        self._message = message
        self._forward = forward

    async def respond(self, request: httpx2.Request, forward: Forward) -> httpx2.Response:
        if self._forward:
            # The backend handles the request in full; only its answer is lost on the way back.
            response = await forward()
            await response.aread()
            await response.aclose()
        raise self._error(self._message, request=request)

    def __repr__(self) -> str:
        return f"{self.name}(forward={self._forward})"


class _Canned(Fault):
    def __init__(self, name: str, status_code: int, body: bytes, headers: dict[str, str]) -> None:
        self.name = name
        self._status = status_code
        self._body = body
        self._headers = headers

    async def respond(self, request: httpx2.Request, forward: Forward) -> httpx2.Response:
        headers = dict(self._headers)
        request_id = request.headers.get("X-Request-ID")
        if request_id is not None:
            headers["X-Request-ID"] = request_id  # every answer echoes it (contract §2)
        body = self._body.replace(b"{request_id}", (request_id or "").encode())
        return httpx2.Response(self._status, headers=headers, content=body, request=request)

    def __repr__(self) -> str:
        return f"{self.name}({self._status})"


class _Delay(Fault):
    name = "delay"

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds

    async def respond(self, request: httpx2.Request, forward: Forward) -> httpx2.Response:
        await asyncio.sleep(self._seconds)
        return await forward()

    def __repr__(self) -> str:
        return f"delay({self._seconds})"


class Gate(Fault):
    """Holds the requests it picks until ``release()``, then lets them through.

    ``arrived`` is set once a request is being held, so a test can act while it is in flight;
    ``held`` counts the requests that reached the gate.
    """

    name = "gate"

    def __init__(self) -> None:
        self.arrived = asyncio.Event()
        self.held = 0
        self._open = asyncio.Event()

    async def respond(self, request: httpx2.Request, forward: Forward) -> httpx2.Response:
        self.held += 1
        self.arrived.set()
        await self._open.wait()
        return await forward()

    def release(self) -> None:
        """Let the held requests, and every later one, through."""
        self._open.set()


def passthrough() -> Fault:
    """No fault: the request goes through (a placeholder in a script of faults)."""
    return _Passthrough()


def connect_error() -> Fault:
    """The connection is refused: nothing reaches the backend (``httpx2.ConnectError``)."""
    return _Raise("connect_error", httpx2.ConnectError, "Connection refused", forward=False)


def connect_timeout() -> Fault:
    """Connecting times out: nothing reaches the backend (``httpx2.ConnectTimeout``)."""
    return _Raise("connect_timeout", httpx2.ConnectTimeout, "Connect timed out", forward=False)


def read_timeout(*, forward: bool = False) -> Fault:
    """No answer in time (``httpx2.ReadTimeout``); with ``forward`` the backend did the work."""
    return _Raise("read_timeout", httpx2.ReadTimeout, "Read timed out", forward=forward)


def reset(*, forward: bool = True) -> Fault:
    """The connection drops before the answer (``httpx2.RemoteProtocolError``).

    By default the request is first handled by the backend in full: "applied on the server, but
    the answer was lost". With ``forward=False`` the backend never sees it.
    """
    return _Raise(
        "reset",
        httpx2.RemoteProtocolError,
        "Server disconnected without sending a response.",
        forward=forward,
    )


def status(
    code: int,
    *,
    retry_after: float | str | None = None,
    error_type: str | None = None,
    message: str | None = None,
    details: dict[str, Any] | None = None,
) -> Fault:
    """An error answer with ``code`` and the contract's error envelope; the backend is not asked.

    ``error_type`` defaults to the contract's type for the status (``SERVER_ERROR`` for other
    5xx); ``retry_after`` becomes the ``Retry-After`` header (seconds, or an HTTP date).
    """
    kind = error_type or _TYPES_BY_STATUS.get(code, "SERVER_ERROR")
    envelope = {
        "error": {
            "type": kind,
            "message": message or f"Injected {code} {kind}.",
            "details": details or {},
        },
        "request_id": "{request_id}",
    }
    headers = {"Content-Type": "application/json"}
    if retry_after is not None:
        headers["Retry-After"] = retry_after if isinstance(retry_after, str) else f"{retry_after:g}"
    return _Canned(f"status_{code}", code, json.dumps(envelope).encode(), headers)


def garbage(
    body: bytes = b"<html><body>Bad gateway</body></html>",
    *,
    code: int = 200,
    content_type: str = "text/html",
) -> Fault:
    """An answer whose body is not JSON (a proxy's page, a truncated body)."""
    return _Canned("garbage", code, body, {"Content-Type": content_type})


def wrong_shape(payload: Any = None, *, code: int = 200) -> Fault:
    """A JSON answer of the wrong shape (by default an object with none of the expected keys)."""
    document = {"unexpected": True} if payload is None else payload
    return _Canned(
        "wrong_shape", code, json.dumps(document).encode(), {"Content-Type": "application/json"}
    )


def delay(seconds: float) -> Fault:
    """Wait ``seconds`` of real time, then send the request on."""
    return _Delay(seconds)


@dataclass
class FaultRule:
    """A fault for the requests that match ``method`` and ``path``, ``remaining`` more times.

    ``remaining`` None means every time. ``hits`` counts the requests it was applied to.
    """

    fault: Fault
    method: str | None
    path: str | None
    remaining: int | None
    hits: int = 0

    @property
    def active(self) -> bool:
        """Whether the rule still applies to new requests."""
        return self.remaining is None or self.remaining > 0

    def matches(self, request: httpx2.Request) -> bool:
        """Whether ``request`` is one this rule picks (it may be used up; see ``active``)."""
        if self.method is not None and request.method != self.method:
            return False
        return self.path is None or _path_matches(self.path, request.url.path)


@dataclass
class SeenRequest:
    """A request the transport saw, the fault applied to it, and what the client got."""

    method: str
    path: str
    headers: httpx2.Headers
    content: bytes | None
    fault: str | None
    status: int | None = None
    error: str | None = None
    response_headers: httpx2.Headers = field(default_factory=httpx2.Headers)

    @property
    def request_id(self) -> str | None:
        """The ``X-Request-ID`` the client sent."""
        return self.headers.get("X-Request-ID")

    @property
    def idempotency_key(self) -> str | None:
        """The ``Idempotency-Key`` the client sent."""
        return self.headers.get("Idempotency-Key")


class FaultTransport(httpx2.AsyncBaseTransport):
    """Wraps ``inner``; applies the first active rule that matches each request, and records it.

    Paths in rules match the URL's path exactly or by its end (``"/workspaces"`` picks
    ``/api/v1/workspaces``); ``*`` matches any run of characters. Methods are upper case; None
    matches any.
    """

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner
        self.rules: list[FaultRule] = []
        self.requests: list[SeenRequest] = []

    def add(
        self,
        fault: Fault,
        *,
        method: str | None = None,
        path: str | None = None,
        times: int | None = 1,
    ) -> FaultRule:
        """Apply ``fault`` to the next ``times`` matching requests (None: to all of them).

        Raises:
            ValueError: ``times`` is below 1.
        """
        if times is not None and times < 1:
            raise ValueError("times must be at least 1, or None for every request")
        rule = FaultRule(fault, method.upper() if method else None, path, times)
        self.rules.append(rule)
        return rule

    def script(
        self, *faults: Fault | None, method: str | None = None, path: str | None = None
    ) -> list[FaultRule]:
        """Apply ``faults`` in order, one per matching request; None lets that request through."""
        return [
            self.add(fault or passthrough(), method=method, path=path, times=1) for fault in faults
        ]

    def clear(self) -> None:
        """Drop every rule; later requests go through untouched (the record is kept)."""
        self.rules.clear()

    def seen(self, method: str | None = None, path: str | None = None) -> list[SeenRequest]:
        """The recorded requests of ``method`` whose path matches ``path``, in order."""
        return [
            seen
            for seen in self.requests
            if (method is None or seen.method == method.upper())
            and (path is None or _path_matches(path, seen.path))
        ]

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        rule = next((r for r in self.rules if r.active and r.matches(request)), None)
        if rule is not None:
            rule.hits += 1
            if rule.remaining is not None:
                rule.remaining -= 1
        seen = SeenRequest(
            method=request.method,
            path=request.url.path,
            headers=httpx2.Headers(request.headers),
            content=_content(request),
            fault=None if rule is None else rule.fault.name,
        )
        self.requests.append(seen)

        async def forward() -> httpx2.Response:
            return await self.inner.handle_async_request(request)

        try:
            response = await (forward() if rule is None else rule.fault.respond(request, forward))
        except httpx2.TransportError as exc:
            seen.error = type(exc).__name__
            raise
        seen.status = response.status_code
        seen.response_headers = httpx2.Headers(response.headers)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __repr__(self) -> str:
        return f"FaultTransport(rules={len(self.rules)}, seen={len(self.requests)})"


def _path_matches(pattern: str, path: str) -> bool:
    return fnmatchcase(path, pattern) or fnmatchcase(path, "*" + pattern)


def _content(request: httpx2.Request) -> bytes | None:
    try:
        return request.content
    except httpx2.RequestNotRead:
        return None  # a streamed body (an upload); reading it here would consume it
