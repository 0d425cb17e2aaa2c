"""The HTTP transport: pooled connections, auth, retries, one breaker per service, single flight.

Built on httpx2 (the maintained successor of httpx, same API): connection pooling with explicit
limits, per-request timeouts, an ASGI transport for in-process tests, and a transport seam where
tests inject faults.

One logical request (``Transport.request``) may make several attempts. Each attempt passes the
service's circuit breaker, carries the same ``X-Request-ID`` and, for a write, the same
``Idempotency-Key``, so a retried write is applied once. A 401 on an authenticated request asks
the authenticator for a fresh token once and tries again; that is not counted as a retry.
"""

from __future__ import annotations

import copy
import logging
import random
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Protocol

import httpx2

from .._clock import Clock
from .._config import IntegrationConfig
from .._errors import (
    APIStatusError,
    NetworkError,
    RequestTimeoutError,
    ServiceError,
    error_from_response,
)
from .._metrics import Metrics
from .._version import __version__
from ._breaker import BreakerSnapshot, CircuitBreaker
from ._dedup import SingleFlight
from ._policy import RetryPolicy, may_retry_method, parse_retry_after, retry_wait
from ._request import (
    WRITE_METHODS,
    Call,
    Params,
    canonical,
    check_path,
    connection_error,
    new_id,
    request_id_of,
    send_attempt,
)

logger = logging.getLogger("pyairtable_integration.transport")


class Authenticator(Protocol):
    """What the transport asks for credentials (the auth manager implements it)."""

    async def authorization(self) -> str | None:
        """The ``Authorization`` header value to send now, or None when signed out."""
        ...

    async def recover(self, rejected: str) -> bool:
        """A request with ``rejected`` got 401: True when a newer token is now available."""
        ...


class Transport:
    """Sends the integration's requests; one per integration, shared by every service client.

    ``http_transport`` replaces the network (an ``httpx2.ASGITransport`` for an in-process
    backend, or a fault-injecting transport in tests). Waits between retries go through the
    clock, so a test clock removes them; ``uniform`` is the jitter's random source.
    """

    def __init__(
        self,
        config: IntegrationConfig,
        *,
        clock: Clock,
        metrics: Metrics,
        http_transport: httpx2.AsyncBaseTransport | None = None,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.config = config
        self.policy = RetryPolicy(
            attempts=config.retry_attempts,
            base_delay=config.retry_delay,
            max_delay=config.retry_max_delay,
            retry_after_cap=config.retry_after_cap,
        )
        self.authenticator: Authenticator | None = None
        self.metrics = metrics
        self._clock = clock
        self._uniform = uniform
        self._breakers: dict[str, CircuitBreaker] = {}
        self._flights: SingleFlight[httpx2.Response] = SingleFlight()
        self._client = httpx2.AsyncClient(
            base_url=config.base_url + "/",
            timeout=httpx2.Timeout(config.timeout),
            limits=httpx2.Limits(
                max_connections=config.max_connections,
                max_keepalive_connections=config.max_keepalive_connections,
                keepalive_expiry=config.keepalive_expiry,
            ),
            headers={"User-Agent": f"pyairtable-integration/{__version__}"},
            transport=http_transport,
        )
        # When the backend last answered (any status below 500) and when it last failed to:
        # what the connection status is read from.
        self.last_success_at: float | None = None
        self.last_failure: ServiceError | None = None
        self.last_failure_at: float | None = None

    @property
    def http(self) -> httpx2.AsyncClient:
        """The pooled httpx2 client (for realtime transports that share its connections)."""
        return self._client

    def with_authenticator(self, authenticator: Authenticator | None) -> Transport:
        """A view of this transport that takes credentials from ``authenticator`` instead.

        The view shares the connection pool, the breakers, request de-duplication (keyed by
        credentials, so sessions never share answers) and the metrics; it is how one integration
        serves many signed-in users (a web app's browsers). Close the original, not the view.
        """
        view = copy.copy(self)
        view.authenticator = authenticator
        return view

    def breaker(self, service: str) -> CircuitBreaker:
        """The circuit breaker of ``service``, created closed on first use."""
        breaker = self._breakers.get(service)
        if breaker is None:
            breaker = CircuitBreaker(
                service,
                failure_threshold=self.config.breaker_failure_threshold,
                reset_timeout=self.config.breaker_reset_timeout,
                clock=self._clock,
            )
            self._breakers[service] = breaker
        return breaker

    def breakers(self) -> dict[str, BreakerSnapshot]:
        """Every breaker used so far, by service."""
        return {name: breaker.snapshot() for name, breaker in sorted(self._breakers.items())}

    async def request(
        self,
        service: str,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: Any = None,
        headers: Mapping[str, str] | None = None,
        authenticated: bool = True,
        idempotency_key: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - httpx2's per-request timeout, as httpx names it
    ) -> httpx2.Response:
        """Send one logical request and return its successful answer, body read.

        A write on an authenticated request gets a fresh ``Idempotency-Key`` unless one is given,
        so it can be retried safely. Identical concurrent GETs (same URL, same credentials) share
        one request when de-duplication is on.

        Raises:
            APIStatusError: the backend answered with an error status (a subclass per kind).
            APIConnectionError: no answer: ``NetworkError``, ``RequestTimeoutError``, or
                ``CircuitOpenError`` when the service's breaker is open.
            ValueError: ``path`` has an empty, ``.`` or ``..`` segment (services build paths
                from checked, escaped ids, so this is a bug in the caller; nothing was sent).
        """
        check_path(path)
        method = method.upper()
        if idempotency_key is None and authenticated and method in WRITE_METHODS:
            idempotency_key = new_id()
        call = Call(
            service=service,
            method=method,
            path=path.lstrip("/"),
            params=params,
            json=json,
            data=data,
            files=files,
            headers=dict(headers or {}),
            authenticated=authenticated,
            idempotency_key=idempotency_key,
            timeout=timeout,
        )
        if method == "GET" and self.config.deduplicate_requests:
            authorization = await self._authorization(call)
            key = (path, canonical(params), authorization, tuple(sorted(call.headers.items())))
            # Counted before the wait: a call that joins one in flight is shared whatever its
            # outcome, and the call that started the flight is not counted.
            if self._flights.running(key):
                self.metrics.deduplicated(service)
            return await self._flights.run(
                key, lambda: self._send(call, stream=False, authorization=authorization)
            )
        return await self._send(call, stream=False, authorization=await self._authorization(call))

    @asynccontextmanager
    async def stream(
        self,
        service: str,
        path: str,
        *,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - httpx2's per-request timeout
    ) -> AsyncIterator[httpx2.Response]:
        """A GET whose successful answer's body is read by the caller, as it arrives.

        Retries happen until the answer's headers arrive; a failure while the body streams
        raises ``NetworkError`` (or ``RequestTimeoutError``) from the iteration.

        Raises:
            ServiceError: as ``request``.
            ValueError: as ``request``.
        """
        check_path(path)
        call = Call(
            service=service,
            method="GET",
            path=path.lstrip("/"),
            params=params,
            json=None,
            data=None,
            files=None,
            headers=dict(headers or {}),
            authenticated=True,
            idempotency_key=None,
            timeout=timeout,
        )
        response = await self._send(
            call, stream=True, authorization=await self._authorization(call)
        )
        try:
            yield response
        except httpx2.TimeoutException as exc:
            raise RequestTimeoutError(
                "The download stalled.", service=service, request_id=request_id_of(response)
            ) from exc
        except httpx2.TransportError as exc:
            raise NetworkError(
                f"The download was cut off: {exc}.",
                service=service,
                request_id=request_id_of(response),
            ) from exc
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        """Cancel shared requests in flight and close the pooled connections."""
        await self._flights.aclose()
        await self._client.aclose()

    async def _authorization(self, call: Call) -> str | None:
        if not call.authenticated or self.authenticator is None:
            return None
        return await self.authenticator.authorization()

    async def _send(
        self, call: Call, *, stream: bool, authorization: str | None
    ) -> httpx2.Response:
        request_id = new_id()
        breaker = self.breaker(call.service)
        retry = 0
        recovered = False
        while True:
            breaker.before_request()
            started = self._clock.monotonic()
            sent = True
            try:
                response = await send_attempt(
                    self._client, call, request_id, authorization, stream=stream
                )
            except httpx2.TransportError as exc:
                sent = not isinstance(exc, httpx2.ConnectError | httpx2.ConnectTimeout)
                if isinstance(exc, httpx2.PoolTimeout):
                    sent = False
                error: ServiceError = connection_error(exc, call.service, request_id)
                retry_after = None
                breaker.record_failure()
            except BaseException:
                breaker.release_probe()
                raise
            else:
                if response.status_code < 400:
                    breaker.record_success()
                    self._finished(call, started, None)
                    self.last_success_at = self._clock.monotonic()
                    return response
                if stream:
                    await response.aread()
                    await response.aclose()
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                error = error_from_response(
                    response.status_code,
                    response.content,
                    request_id=response.headers.get("X-Request-ID", request_id),
                    retry_after=retry_after,
                    service=call.service,
                )
                if response.status_code >= 500:
                    breaker.record_failure()
                else:
                    breaker.record_success()
                    self.last_success_at = self._clock.monotonic()
                if (
                    response.status_code == 401
                    and authorization is not None
                    and self.authenticator is not None
                    and not recovered
                ):
                    recovered = True
                    self._finished(call, started, error)
                    if await self.authenticator.recover(authorization):
                        authorization = await self.authenticator.authorization()
                        continue
                    raise error
            self._finished(call, started, error)
            if not isinstance(error, APIStatusError) or (error.code or 0) >= 500:
                self.last_failure = error
                self.last_failure_at = self._clock.monotonic()
            wait = self._retry_wait(call, error, retry + 1, retry_after=retry_after, sent=sent)
            if wait is None:
                raise error
            retry += 1
            self.metrics.retry(call.service)
            logger.debug(
                "retry %d of %s %s in %.2fs after %s",
                retry,
                call.method,
                call.path,
                wait,
                error.type,
            )
            await self._clock.sleep(wait)

    def _retry_wait(
        self, call: Call, error: ServiceError, retry: int, *, retry_after: float | None, sent: bool
    ) -> float | None:
        if isinstance(error, APIStatusError):
            if error.code not in self.policy.statuses:
                return None
            if not may_retry_method(call.method, idempotency_key=call.idempotency_key):
                return None
        elif sent and not may_retry_method(call.method, idempotency_key=call.idempotency_key):
            return None
        return retry_wait(self.policy, retry, retry_after=retry_after, uniform=self._uniform)

    def _finished(self, call: Call, started: float, error: ServiceError | None) -> None:
        self.metrics.request(
            call.service,
            self._clock.monotonic() - started,
            error_type=None if error is None else error.type,
        )
