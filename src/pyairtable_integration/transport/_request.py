"""One request as the transport sends it: its description, one attempt on the wire, and the
translation of httpx2's failures into the SDK's errors.

``Transport`` (``_client``) decides how many attempts a request gets; this module knows what a
single attempt is: the headers it carries (``X-Request-ID``, ``Authorization``,
``Idempotency-Key``), the debug log line with secrets redacted, and nothing about retries.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx2

from .._errors import NetworkError, RequestTimeoutError, ServiceError
from .._ids import is_plain_path
from ._redact import redact_body, redact_url

logger = logging.getLogger("pyairtable_integration.transport")

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
Params = Mapping[str, Any] | Sequence[tuple[str, Any]]


@dataclass(frozen=True)
class Call:
    """One logical request: the same for each of its attempts."""

    service: str
    method: str
    path: str
    params: Params | None
    json: Any
    data: Mapping[str, Any] | None
    files: Any
    headers: dict[str, str]
    authenticated: bool
    idempotency_key: str | None
    timeout: float | None


def new_id() -> str:
    """A fresh request id or idempotency key."""
    return uuid.uuid4().hex


async def send_attempt(
    client: httpx2.AsyncClient,
    call: Call,
    request_id: str,
    authorization: str | None,
    *,
    stream: bool,
) -> httpx2.Response:
    """Send one attempt of ``call`` and return the answer, whatever its status.

    Raises:
        httpx2.TransportError: no answer (the transport translates it with ``connection_error``).
    """
    headers = {"X-Request-ID": request_id, **call.headers}
    if authorization is not None:
        headers["Authorization"] = authorization
    if call.idempotency_key is not None:
        headers["Idempotency-Key"] = call.idempotency_key
    request = client.build_request(
        call.method,
        call.path,
        params=call.params,  # type: ignore[arg-type]
        json=call.json,
        data=call.data,
        files=call.files,
        headers=headers,
        timeout=call.timeout if call.timeout is not None else httpx2.USE_CLIENT_DEFAULT,
    )
    if logger.isEnabledFor(logging.DEBUG):
        body = b"" if call.files is not None else request.content
        logger.debug(
            "→ %s %s [%s] %s",
            call.method,
            redact_url(str(request.url)),
            request_id,
            redact_body(body),
        )
    response = await client.send(request, stream=stream)
    if logger.isEnabledFor(logging.DEBUG):
        shown = "<stream>" if stream else redact_body(response.content)
        logger.debug(
            "← %d %s %s [%s] %.1f ms %s",
            response.status_code,
            call.method,
            redact_url(str(request.url)),
            request_id,
            response.elapsed.total_seconds() * 1000 if not stream else 0.0,
            shown,
        )
    return response


def check_path(path: str) -> None:
    """Return when ``path`` has no empty, ``.`` or ``..`` segment.

    Raises:
        ValueError: it has one.
    """
    # A second line behind the services' id checks: httpx resolves dot segments against the
    # base URL, so such a path could name another resource than the one meant.
    if not is_plain_path(path):
        raise ValueError(f"Refusing to send a request to the unresolved path {path!r}.")


def canonical(params: Params | None) -> tuple[tuple[str, str], ...]:
    """``params`` flattened to sorted-stable pairs of strings (part of a de-duplication key)."""
    if params is None:
        return ()
    items = params.items() if isinstance(params, Mapping) else params
    flat: list[tuple[str, str]] = []
    for key, value in items:
        if isinstance(value, list | tuple):
            flat.extend((key, str(item)) for item in value)
        elif value is not None:
            flat.append((key, str(value)))
    return tuple(flat)


def request_id_of(response: httpx2.Response) -> str | None:
    """The backend's ``X-Request-ID`` of ``response``, if it sent one."""
    return response.headers.get("X-Request-ID")


def connection_error(exc: httpx2.TransportError, service: str, request_id: str) -> ServiceError:
    """The SDK's error for an attempt that got no answer: a timeout or a network failure."""
    if isinstance(exc, httpx2.TimeoutException):
        return RequestTimeoutError(
            f"The {service} service did not answer in time ({type(exc).__name__}).",
            service=service,
            request_id=request_id,
        )
    return NetworkError(
        f"The {service} service could not be reached: {type(exc).__name__}: {exc}".rstrip(": "),
        service=service,
        request_id=request_id,
    )
