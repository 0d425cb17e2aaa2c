"""The blocking facade: the async integration run on one background event loop it owns.

    from pyairtable_integration import SyncIntegration

    with SyncIntegration.create(base_url="http://localhost:8080/api/v1") as pa:
        pa.auth.login("ada@example.com", "...")
        for workspace in pa.services.workspace.iter_workspaces():
            print(workspace.name)

Every call hands a coroutine to the loop thread and waits for its result, so the async core is
the only implementation: same retries, breakers, de-duplication and token refresh. The thread is
a daemon, so a script that forgets ``close()`` still exits; ``close()`` (or leaving the ``with``
block) closes the connections and ends the thread.

Service methods (and those of ``mutate``, ``optimistic`` and ``offline``) are reached through a
proxy typed ``Any``: Python's type system cannot map a class's ``async def`` methods onto blocking
ones, and a hand-kept twin of every method would drift from the async clients. Everything else
here is precisely typed.

Realtime callbacks, session listeners and outbox listeners run on the loop thread, not the
caller's: hand what they receive to your own thread (a ``queue.Queue``), since a call into the
facade from the loop thread raises ``RuntimeError`` rather than block the loop it waits on.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, ParamSpec, Self, TypeVar, cast

from ._metrics import ServiceMetrics
from .auth import Session, SessionListener
from .cache import CacheStats
from .offline import OfflineOutbox, OutboxEntry, SyncResult
from .optimistic import Mutations, OptimisticManager
from .realtime import EventCallback, RealtimeClient, ResetCallback, Subscription
from .services import Services
from .types import Health, Permissions, User

if TYPE_CHECKING:
    from ._integration import ConnectionStatus, PyAirtableIntegration, ServiceStatus

P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S")

THREAD_NAME = "pyairtable-integration-sync"
_IN_LOOP_MESSAGE = (
    "The blocking SyncIntegration was called from inside a running event loop, where it would "
    "block that loop; in async code (and in notebooks, with top-level await) use the async API: "
    "`pa = create_integration(...)` and `await pa.services...`."
)


def _refuse_running_loop() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(_IN_LOOP_MESSAGE)


class _LoopThread:
    """An event loop running forever in a daemon thread, until ``stop``."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name=THREAD_NAME, daemon=True)
        self._thread.start()

    @property
    def closed(self) -> bool:
        return self._closed

    def run(
        self, function: Callable[P, Coroutine[Any, Any, T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Await ``function(*args, **kwargs)`` on the loop and return its result here.

        Raises:
            RuntimeError: called from a running event loop, or after ``stop``.
            BaseException: whatever the call raised.
        """
        self.check()
        future = asyncio.run_coroutine_threadsafe(function(*args, **kwargs), self._loop)
        try:
            return future.result()
        except BaseException:
            # Ctrl-C while waiting: the work on the loop must not go on without a caller.
            future.cancel()
            raise

    def call(self, function: Callable[[], T]) -> T:
        """Run the plain ``function`` on the loop thread, where the state it reads is changed.

        Raises:
            RuntimeError: called from a running event loop, or after ``stop``.
        """

        async def on_loop() -> T:
            return function()

        return self.run(on_loop)

    def usable(self) -> bool:
        """Whether ``check`` would pass."""
        if self._closed:
            return False
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return True
        return False

    def stop(self) -> None:
        """End the loop and wait for the thread; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()

    def check(self) -> None:
        """Return when calls may be made from here.

        Raises:
            RuntimeError: this thread runs an event loop, or the loop was stopped.
        """
        if self._closed:
            raise RuntimeError("This SyncIntegration is closed; create a new one.")
        _refuse_running_loop()

    def _serve(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            # Whatever is still scheduled (a call abandoned by Ctrl-C) is cancelled and awaited,
            # so no task is destroyed pending.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


class SyncService(Generic[S]):
    """A service client whose methods block: ``get_*`` return results, ``iter_*`` iterate lazily.

    Each method is the async client's method of the same name (same arguments, same errors)
    run on the integration's loop; ``iter_*`` give plain iterators that fetch the next page only
    when the loop reaches it. Plain methods run on the loop thread too, since the state they
    change is the loop's; other attributes are read as they are.
    """

    #: Names of the wrapped object's that the integration drives itself (its lifecycle).
    _hidden: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, service: S, loop: _LoopThread) -> None:
        self._service = service
        self._loop = loop

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._service!r})"

    def __dir__(self) -> list[str]:
        names = {name for name in dir(self._service) if not name.startswith("_")}
        names.update(name for name in dir(type(self)) if not name.startswith("_"))
        return sorted(names - self._hidden)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in self._hidden:
            raise AttributeError(name)
        target = getattr(self._service, name)
        if inspect.isasyncgenfunction(target):
            blocking: Callable[..., Any] = self._iterating(target)
        elif inspect.iscoroutinefunction(target):
            blocking = self._waiting(target)
        elif inspect.ismethod(target):
            blocking = self._calling(target)
        else:
            return target
        # Kept on the instance so the next lookup does not come back here.
        self.__dict__[name] = blocking
        return blocking

    def _waiting(self, method: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
        loop = self._loop

        @functools.wraps(method)
        def blocking(*args: Any, **kwargs: Any) -> Any:
            return loop.run(method, *args, **kwargs)

        return blocking

    def _calling(self, method: Callable[..., Any]) -> Callable[..., Any]:
        loop = self._loop

        @functools.wraps(method)
        def blocking(*args: Any, **kwargs: Any) -> Any:
            return loop.call(functools.partial(method, *args, **kwargs))

        return blocking

    def _iterating(self, method: Callable[..., AsyncIterator[Any]]) -> Callable[..., Any]:
        loop = self._loop

        @functools.wraps(method)
        def blocking(*args: Any, **kwargs: Any) -> Iterator[Any]:
            loop.check()  # fail at the call, not at the first next()
            return _blocking_iterator(loop, method(*args, **kwargs))

        return blocking


def _blocking_iterator(loop: _LoopThread, source: AsyncIterator[T]) -> Iterator[T]:
    """``source``'s items, each awaited on ``loop`` when the caller asks for it."""
    done = object()

    async def step() -> object:
        try:
            return await anext(source)
        except StopAsyncIteration:
            return done

    try:
        while (item := loop.run(step)) is not done:
            yield cast(T, item)
    finally:
        close = getattr(source, "aclose", None)
        # Closed here when possible; otherwise (the integration closed, or a generator
        # collected inside some event loop) the loop's async-generator hook finalizes it.
        if close is not None and loop.usable():
            loop.run(close)


class SyncOffline(SyncService[OfflineOutbox]):
    """``pa.offline`` blocking: writes recorded in the outbox, then sent; see ``OfflineOutbox``.

    ``create_record``, ``update_record``, ``replace_record``, ``delete_record``, their batch
    forms, ``enqueue``, ``entries`` and ``prune`` are the outbox's methods run on the loop; a
    write the backend could not take raises ``OfflineError`` and waits in the outbox. The
    outbox file is opened and closed with the integration, and replayed by its background task.
    """

    _hidden = frozenset({"open", "close", "run"})

    @property
    def enabled(self) -> bool:
        """Whether writes are recorded (offline support is on)."""
        return self._service.enabled

    @property
    def pending_count(self) -> int:
        """How many of the signed-in user's entries are unsent."""
        return self._loop.call(lambda: self._service.pending_count)

    def pending(self) -> list[OutboxEntry]:
        """The signed-in user's unsent entries, in the order they will be sent."""
        return self._loop.call(self._service.pending)

    def sync(self) -> SyncResult:
        """Send the signed-in user's unsent entries now, in order, until done or a send fails
        for want of an answer (then the rest waits).

        Raises:
            OutboxWriteError: an outcome could not be recorded.
            Exception: whatever the conflict strategy raised (the entry stays unsent).
        """
        return self._loop.run(self._service.sync)


class SyncRealtime:
    """Subscriptions to the backend's events from blocking code; see ``RealtimeClient``.

    Callbacks run on the integration's loop thread, one event at a time per subscription and in
    order; a callback that blocks holds up its subscription's deliveries, and one that calls the
    facade gets ``RuntimeError``: pass events to your own thread with a ``queue.Queue``.
    """

    def __init__(self, realtime: RealtimeClient, loop: _LoopThread) -> None:
        self._realtime = realtime
        self._loop = loop

    def __repr__(self) -> str:
        return f"SyncRealtime({self._realtime.manager!r})"

    def subscribe_to_record_changes(
        self, table_id: str, callback: EventCallback, *, on_reset: ResetCallback | None = None
    ) -> Subscription:
        """Call ``callback(event)`` (on the loop thread) for every record created, updated or
        deleted in ``table_id``; ``wait_ready`` tells when events start to arrive.

        Raises:
            RuntimeError: realtime is switched off or the integration is closed.
        """
        return self._loop.call(
            lambda: self._realtime.subscribe_to_record_changes(
                table_id, callback, on_reset=on_reset
            )
        )

    def subscribe_to_workspace_changes(
        self, workspace_id: str, callback: EventCallback, *, on_reset: ResetCallback | None = None
    ) -> Subscription:
        """Call ``callback(event)`` (on the loop thread) for every change in ``workspace_id``.

        Raises:
            RuntimeError: realtime is switched off or the integration is closed.
        """
        return self._loop.call(
            lambda: self._realtime.subscribe_to_workspace_changes(
                workspace_id, callback, on_reset=on_reset
            )
        )

    def wait_ready(self, subscription: Subscription) -> None:
        """Return once the backend serves ``subscription``: every later event reaches it."""
        self._loop.run(subscription.wait_ready)

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop ``subscription``; nothing more reaches its callback (safe to call twice)."""
        self._loop.call(lambda: self._realtime.unsubscribe(subscription))


class SyncServices:
    """Every service client of the integration, blocking; see ``SyncService``."""

    def __init__(self, services: Services, loop: _LoopThread) -> None:
        self.auth = SyncService(services.auth, loop)
        self.user = SyncService(services.user, loop)
        self.workspace = SyncService(services.workspace, loop)
        self.base = SyncService(services.base, loop)
        self.table = SyncService(services.table, loop)
        self.field = SyncService(services.field, loop)
        self.view = SyncService(services.view, loop)
        self.record = SyncService(services.record, loop)
        self.file = SyncService(services.file, loop)
        self.webhook = SyncService(services.webhook, loop)
        self.event = SyncService(services.event, loop)
        self.health = SyncService(services.health, loop)

    def __repr__(self) -> str:
        return (
            "SyncServices(auth, user, workspace, base, table, field, view, record, file, webhook)"
        )


class SyncAuth:
    """Sign-in, sign-out and permission checks, blocking; see ``AuthManager``.

    Session listeners are called on the integration's loop thread.
    """

    def __init__(self, integration: PyAirtableIntegration, loop: _LoopThread) -> None:
        self._auth = integration.auth
        self._loop = loop

    def __repr__(self) -> str:
        return f"SyncAuth({self._auth!r})"

    @property
    def session(self) -> Session | None:
        """The current session, or None when signed out."""
        return self._auth.session

    @property
    def user(self) -> User | None:
        """The signed-in user, or None."""
        return self._auth.user

    @property
    def is_authenticated(self) -> bool:
        """Whether a session is held."""
        return self._auth.is_authenticated

    def login(self, email: str, password: str) -> Session:
        """Sign in and keep the session.

        Raises:
            AuthenticationError: wrong email or password, or an inactive account.
            RateLimitedError: too many failed sign-ins.
            APIConnectionError: the backend could not be reached.
        """
        return self._loop.run(self._auth.login, email, password)

    def logout(self) -> None:
        """Revoke the session on the backend and forget it here (also when unreachable)."""
        self._loop.run(self._auth.logout)

    def set_session(self, session: Session | None) -> None:
        """Adopt ``session`` (one the app restored), or sign out locally when None."""
        self._loop.run(self._auth.set_session, session)

    def refresh(self) -> Session:
        """Exchange the refresh token for a new pair.

        Raises:
            AuthenticationError: signed out, or the backend refused the refresh token.
            APIConnectionError: the backend could not be reached; the session is kept.
        """
        return self._loop.run(self._auth.refresh)

    def permissions(self, workspace_id: str) -> Permissions:
        """The caller's role and permissions in a workspace (cached).

        Raises:
            NotFoundError: the caller is not a member of the workspace.
            AuthenticationError: signed out or the session ended.
        """
        return self._loop.run(self._auth.permissions, workspace_id)

    def can(self, permission: str, *, workspace_id: str) -> bool:
        """Whether the signed-in user holds ``permission`` in a workspace (non-member: False).

        Raises:
            AuthenticationError: signed out or the session ended.
            APIConnectionError: the permissions could not be fetched.
        """
        return self._loop.run(self._auth.can, permission, workspace_id=workspace_id)

    def require(self, permission: str, *, workspace_id: str) -> None:
        """Return when the user holds ``permission`` in the workspace.

        Raises:
            PermissionDeniedError: they do not.
        """
        self._loop.run(self._auth.require, permission, workspace_id=workspace_id)

    def has_role(self, *roles: str) -> bool:
        """Whether the signed-in user's platform role is one of ``roles``."""
        return self._auth.has_role(*roles)

    def on_session_change(self, listener: SessionListener) -> Callable[[], None]:
        """Call ``listener`` (on the loop thread) on every session change; returns its remover."""
        return self._loop.call(lambda: self._auth.on_session_change(listener))


class SyncIntegration:
    """The integration for code without an event loop: every call blocks until it is done.

    ``SyncIntegration.create(**options)`` takes the options of ``create_integration``;
    ``create_integration(...).sync()`` wraps an integration that was not started yet. Use it as
    ``with ... as pa:`` or call ``close()``; afterwards every call raises ``RuntimeError``.
    Calling it from inside a running event loop raises ``RuntimeError`` too: async code uses the
    async API.
    """

    def __init__(self, integration: PyAirtableIntegration) -> None:
        """Start the loop thread and the integration on it.

        Raises:
            RuntimeError: called inside a running event loop; or ``integration`` was already
                started (on another loop) or closed.
        """
        # Read without the loop: ``initialize`` on an event loop ties the integration's
        # background task to that loop, and this facade needs its own.
        if integration._initialized or integration._closed:
            raise RuntimeError(
                "SyncIntegration needs an integration that was never started: call .sync() "
                "on the result of create_integration(), before initialize() or `async with`."
            )
        _refuse_running_loop()
        self._loop = _LoopThread()
        try:
            self._loop.run(integration.initialize)
        except BaseException:
            self._loop.stop()
            raise
        self.integration = integration
        self.services = SyncServices(integration.services, self._loop)
        self.auth = SyncAuth(integration, self._loop)
        self.mutate: SyncService[Mutations] = SyncService(integration.mutate, self._loop)
        self.optimistic: SyncService[OptimisticManager] = SyncService(
            integration.optimistic, self._loop
        )
        self.offline = SyncOffline(integration.offline, self._loop)
        self.realtime = SyncRealtime(integration.realtime, self._loop)

    @classmethod
    def create(cls, **options: Any) -> Self:
        """A started blocking integration; ``options`` are those of ``create_integration``.

        Raises:
            ConfigurationError: an option is unknown or invalid.
            RuntimeError: called inside a running event loop.
        """
        from ._integration import create_integration

        return cls(create_integration(**options))

    def __repr__(self) -> str:
        state = "closed" if self._loop.closed else "open"
        return f"SyncIntegration({self.integration!r}, {state})"

    @property
    def closed(self) -> bool:
        """Whether ``close`` was called."""
        return self._loop.closed

    def close(self) -> None:
        """Close the integration's connections and end its thread; safe to call twice."""
        if self._loop.closed:
            return
        try:
            self._loop.run(self.integration.aclose)
        finally:
            self._loop.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def check_health(self) -> Health:
        """Ask the backend for every service's health now, and remember the answer.

        Raises:
            ServiceError: the health endpoint could not be reached.
        """
        return self._loop.run(self.integration.check_health)

    def get_service_health(self) -> dict[str, ServiceStatus]:
        """Every service: the latest backend report and its breaker now."""
        return self._loop.call(self.integration.get_service_health)

    def get_connection_status(self) -> ConnectionStatus:
        """Online, degraded, offline, or unknown yet."""
        return self._loop.call(self.integration.get_connection_status)

    def get_metrics(self) -> dict[str, ServiceMetrics]:
        """Per service: requests, errors, retries, de-duplicated calls, latency percentiles."""
        return self._loop.call(self.integration.get_metrics)

    def invalidate_cache(self, prefix: str) -> None:
        """Drop every cached entry and record list whose key starts with ``prefix``
        (``records:<table id>:`` for a table's records, ``""`` for everything)."""
        self._loop.run(self.integration.invalidate_cache, prefix)

    def clear_cache(self) -> None:
        """Drop everything cached, in every level."""
        self._loop.run(self.integration.clear_cache)

    def get_cache_stats(self) -> CacheStats:
        """A copy of the cache's counters now: hits, misses, size, evictions, revalidations."""
        # Taken on the loop, where the counters change; get_stats() answers a copy.
        return self._loop.call(self.integration.cache.manager.get_stats)
