"""The integration: one object that owns the transport, the session and the service clients."""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx2

from ._background import Background
from ._clock import Clock, SystemClock
from ._config import IntegrationConfig, build_config
from ._errors import APIConnectionError, CircuitOpenError
from ._metrics import Metrics, ServiceMetrics
from ._online import OnlineStatus
from ._session_client import SessionClient
from ._status import ConnectionState, ConnectionStatus, ServiceStatus
from ._sync import SyncIntegration
from .auth import AuthManager, MemoryTokenStore, Session, SessionEvent, TokenStore
from .live import Live
from .offline import OfflineOutbox, default_outbox_path
from .optimistic import Mutations, OptimisticManager
from .realtime import RealtimeClient, RealtimeManager, RealtimeState, Subscription
from .services import Services
from .store import Cache, CachedServices, CacheLevel, MutationCache
from .transport import BreakerSnapshot, Transport
from .types import Health

logger = logging.getLogger("pyairtable_integration")


class PyAirtableIntegration:
    """The integration layer: ``services``, ``auth``, health, status and metrics.

    Use it as ``async with create_integration(...) as pa:`` or call ``initialize()`` and
    ``aclose()``. Background work (token refresh, realtime, outbox replay, cache refreshes) runs
    only between the two, and ``aclose()`` leaves nothing running.

    A background loop that fails (the token refresher, the outbox's replay, the realtime
    runner) is told at once to ``on_background_error`` listeners, and ``aclose()`` (so leaving
    ``async with``) raises an ``ExceptionGroup`` of every such failure; see ``_background``.
    """

    def __init__(
        self,
        config: IntegrationConfig,
        *,
        token_store: TokenStore | None = None,
        clock: Clock | None = None,
        http_transport: httpx2.AsyncBaseTransport | None = None,
        cache_levels: Sequence[CacheLevel] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.metrics = Metrics()
        self.transport = Transport(
            config, clock=self.clock, metrics=self.metrics, http_transport=http_transport
        )
        self.auth = AuthManager(
            self.transport,
            store=token_store or MemoryTokenStore(),
            clock=self.clock,
            refresh_margin=config.refresh_margin,
            permissions_ttl=config.permissions_ttl,
        )
        self.transport.authenticator = self.auth
        self.cache = Cache(config, self.clock, levels=cache_levels)
        self.services: Services = CachedServices(self.transport, self.cache)
        self.realtime = RealtimeClient(
            RealtimeManager(
                config,
                auth=self.auth,
                events=self.services.event,
                http=self.transport.http,
                clock=self.clock,
            )
        )
        # The outbox replays, and pa.mutate sends, through record clients of their own: theirs
        # must not park what fails (the outbox keeps its own entries; a mutation rolls back).
        direct = CachedServices(self.transport, self.cache)
        #: Whether the backend answers: the one status the outbox, live queries and
        #: ``live.connection`` read; its health probe runs in the background task group.
        self.online = OnlineStatus(direct.health.get_health, clock=self.clock)
        #: Every record write under way (``pa.mutate``'s and ``pa.offline``'s), in order per
        #: record; writes started offline wait, paused, until ``online`` says it answers.
        self.mutation_cache = MutationCache(self.online)
        self.offline = OfflineOutbox(
            services=direct,
            auth=self.auth,
            clock=self.clock,
            path=default_outbox_path(os.environ if environ is None else environ)
            if config.offline_path is None
            else Path(config.offline_path),
            enabled=config.features.enable_offline_support or config.enable_offline_queue,
            online=self.online,
            mutations=self.mutation_cache,
        )
        self.optimistic = OptimisticManager(self.cache.records, clock=self.clock)
        self.mutate = Mutations(
            direct.record,
            self.optimistic,
            enabled=config.enable_optimistic_updates and config.features.enable_optimistic_updates,
            mutations=self.mutation_cache,
        )
        self.offline.use_optimistic(self.optimistic if self.mutate.optimistic_enabled else None)
        if self.offline.enabled:
            # A record write made through pa.services that gets no answer is kept, not lost.
            self.services.record.parking = self.offline
        self.live = Live(self)
        self._health: Health | None = None
        self._cache_feed: Subscription | None = None
        self.cache.scope_to(self.auth.user.id if self.auth.user is not None else None)
        self.auth.on_session_change(self._session_changed)
        self.realtime.on_state_change(self._realtime_changed)
        self.background = Background()
        self.offline.report_failure = self.background.report
        self.realtime.manager.report_failure = self.background.report
        self._initialized = False
        self._closed = False
        if config.debug:
            _enable_debug_logging()

    def __repr__(self) -> str:
        return f"PyAirtableIntegration(base_url={self.config.base_url!r}, auth={self.auth!r})"

    @property
    def started(self) -> bool:
        """Whether ``initialize()`` (or ``aclose()``) was called: its loop is chosen."""
        return self._initialized or self._closed

    async def initialize(self, session: Session | None = None) -> None:
        """Start background work; adopt ``session`` when given (one the app restored).

        Raises:
            RuntimeError: the integration was closed.
        """
        if self._closed:
            raise RuntimeError("This integration is closed; create a new one.")
        if session is not None:
            await self.auth.set_session(session)
        if not self._initialized:
            # Opened first: a damaged outbox fails initialize() before anything starts.
            await self.offline.open()
            self._initialized = True
            loops: list[tuple[str, Callable[[], Awaitable[None]]]] = [
                ("token refresher", self.auth.keep_fresh),
                ("online probe", self.online.run),
            ]
            if self.offline.enabled:
                loops.append(("offline outbox", self.offline.run))
            self.background.start(loops)
            self.realtime.manager.start()
            self._follow_for_cache()

    def on_background_error(self, listener: Callable[[Exception], object]) -> Callable[[], None]:
        """Call ``listener(error)`` whenever background work fails; returns a function to stop.

        The same failures are raised by ``aclose()`` as an ``ExceptionGroup``.
        """
        return self.background.on_error(listener)

    async def aclose(self) -> None:
        """Stop background work and close every connection; safe to call twice.

        Raises:
            ExceptionGroup: background work failed while the integration ran (raised once,
                after everything is closed).
        """
        if self._closed:
            return
        self._closed = True
        try:
            await self.background.aclose()
        finally:
            await self.live.aclose()
            await self.offline.close()
            await self.realtime.aclose()
            await self.cache.aclose()
            await self.transport.aclose()

    def _session_changed(self, event: SessionEvent) -> None:
        # The cache belongs to the signed-in user: another user (or none) starts afresh.
        self.cache.scope_to(event.session.user_id if event.session is not None else None)
        self._follow_for_cache()

    def _follow_for_cache(self) -> None:
        """Keep one all-channel subscription feeding the cache while it is worth having."""
        wanted = (
            self._initialized
            and not self._closed
            and self.config.enable_caching
            and self.config.features.enable_realtime
            and self.config.realtime_config.feed_cache
            and self.auth.is_authenticated
        )
        if wanted and self._cache_feed is None:
            invalidation = self.cache.invalidation
            self._cache_feed = self.realtime.subscribe(
                "*", None, invalidation.apply_event, on_reset=lambda _reset: invalidation.on_reset()
            )
        elif not wanted and self._cache_feed is not None:
            self.realtime.unsubscribe(self._cache_feed)
            self._cache_feed = None

    def _realtime_changed(self, state: RealtimeState) -> None:
        # A live realtime connection proves the backend is reachable: the offline outbox need
        # not wait for its next health probe to start replaying.
        if state.status == "connected":
            self.online.set_online(True)

    async def __aenter__(self) -> Self:
        await self.initialize()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def for_session(self, session: Session | None = None) -> SessionClient:
        """A client acting as ``session`` on this integration's connections (one per web request).

        Its ``auth`` and ``services`` are independent of ``self.auth``, so one integration
        serves many users at once; without ``session`` it starts signed out (to ``login``).
        """
        return SessionClient(
            self.transport,
            session,
            clock=self.clock,
            refresh_margin=self.config.refresh_margin,
            permissions_ttl=self.config.permissions_ttl,
        )

    def sync(self) -> SyncIntegration:
        """A blocking facade over this integration, for scripts and notebooks.

        Raises:
            RuntimeError: called inside a running event loop, or the integration was started.
        """
        return SyncIntegration(self)

    async def check_health(self) -> Health:
        """Ask the backend for every service's health now, and remember the answer.

        Raises:
            ServiceError: the health endpoint could not be reached.
        """
        self._health = await self.services.health.get_health()
        return self._health

    def get_service_health(self) -> dict[str, ServiceStatus]:
        """Every service: the latest backend report (``check_health``) and its breaker now."""
        names = set(self.transport.breakers())
        if self._health is not None:
            names.update(self._health.services)
        statuses: dict[str, ServiceStatus] = {}
        breakers = self.transport.breakers()
        for name in sorted(names):
            reported = self._health.services.get(name) if self._health is not None else None
            breaker = breakers.get(name) or BreakerSnapshot("closed", 0, 0, None)
            statuses[name] = ServiceStatus(
                name=name,
                backend_status=reported.status if reported is not None else None,
                latency_ms=reported.latency_ms if reported is not None else None,
                breaker=breaker.state,
                consecutive_failures=breaker.consecutive_failures,
                retry_in=breaker.retry_in,
            )
        return statuses

    def get_connection_status(self) -> ConnectionStatus:
        """Online, degraded (some breaker open or backend degraded), offline, or unknown yet."""
        now = self.clock.monotonic()
        last_success = self.transport.last_success_at
        failure = self.transport.last_failure
        open_breakers = tuple(
            name for name, snap in self.transport.breakers().items() if snap.state == "open"
        )
        state: ConnectionState
        if last_success is None and failure is None:
            state = "unknown"
        elif (
            isinstance(failure, APIConnectionError)
            and not isinstance(failure, CircuitOpenError)
            and (last_success is None or (self.transport.last_failure_at or 0) > last_success)
        ):
            state = "offline"
        elif open_breakers or (self._health is not None and self._health.status != "ok"):
            state = "degraded"
        else:
            state = "online"
        return ConnectionStatus(
            state=state,
            authenticated=self.auth.is_authenticated,
            last_success_ago=None if last_success is None else now - last_success,
            last_error=None if failure is None else f"{failure.type}: {failure.message}",
            open_breakers=open_breakers,
        )

    async def invalidate_cache(self, prefix: str) -> None:
        """Drop every cached entry and record list whose key starts with ``prefix``."""
        await self.cache.invalidate(prefix)

    async def clear_cache(self) -> None:
        """Drop everything cached, in every level."""
        await self.cache.clear()

    def get_metrics(self) -> dict[str, ServiceMetrics]:
        """Per service: requests, errors, retries, de-duplicated calls, latency percentiles."""
        return self.metrics.snapshot()


def _enable_debug_logging() -> None:
    package = logging.getLogger("pyairtable_integration")
    package.setLevel(logging.DEBUG)
    if not package.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        package.addHandler(handler)


def create_integration(
    *,
    token_store: TokenStore | None = None,
    clock: Clock | None = None,
    http_transport: httpx2.AsyncBaseTransport | None = None,
    cache_levels: Sequence[CacheLevel] | None = None,
    environ: Mapping[str, str] | None = None,
    **options: Any,
) -> PyAirtableIntegration:
    """Create an integration from keyword options over the ``PYAIRTABLE_*`` environment.

    ``options`` are those of ``IntegrationConfig`` (``base_url``, ``timeout``,
    ``retry_attempts``, ``features={"enable_realtime": True}``...). ``token_store`` keeps the
    session (memory by default); ``http_transport`` replaces the network (tests, in-process
    backends); ``cache_levels`` replaces the cache's shared levels (a ``RedisCacheLevel``);
    ``environ`` replaces ``os.environ``.

    Raises:
        ConfigurationError: an option is unknown or invalid; the message names each one.
    """
    config = build_config(options, environ=environ)
    return PyAirtableIntegration(
        config,
        token_store=token_store,
        clock=clock,
        http_transport=http_transport,
        cache_levels=cache_levels,
        environ=environ,
    )


# The facade sits below this module (it only knows the SyncHost protocol); its ``create`` builds
# integrations with the factory the composition root hands it here.
SyncIntegration.integration_factory = create_integration
