"""Solara bindings: a provider and hooks that keep components in step with ``pa.live``.

    from pyairtable_integration.ui.solara import PyAirtableProvider, use_records

    @solara.component
    def Grid(table_id: str):
        state = use_records(table_id, sort=[{"field": "Name", "direction": "asc"}])
        if state.status == "pending":
            return solara.Text("Loading...")
        for record in state.data or []:
            solara.Text(str(record.fields))

    @solara.component
    def Page():
        with PyAirtableProvider(pa, loop):  # loop: the event loop ``pa`` runs on
            Grid("tbl...")

Every hook is a thin adapter over an observer's ``subscribe()``: it subscribes in
``solara.use_effect`` and unsubscribes in the effect's cleanup, so a component that goes away
leaves no listener and no realtime subscription behind.

Threads: the integration lives on its own event loop (``loop``), while Solara renders on its
kernel's thread. Hooks therefore create observers and subscribe on the integration's loop,
listeners set component state from that loop's thread with the kernel context entered (the
same way ``solara.use_thread`` does), and ``mutate`` hands its coroutine to the loop and returns
a ``concurrent.futures.Future`` that the caller never has to wait for.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import solara
from solara.server import kernel_context

from .._integration import PyAirtableIntegration
from ..live import ConnectionView, Live, MutationState, QueryState
from ..realtime import Channel
from ..services.records import SortKey
from ..types import Event, Record

T = TypeVar("T")
S = TypeVar("S")
S_co = TypeVar("S_co", covariant=True)

Mutate = Callable[..., "concurrent.futures.Future[Any]"]


class Observable(Protocol[S_co]):
    """What the hooks need of an observer: its current state and a way to follow it."""

    @property
    def state(self) -> S_co:
        """The observer's state now."""
        ...

    def subscribe(self, listener: Callable[[Any], None]) -> Callable[[], None]:
        """Call ``listener(state)`` on every change; returns the unsubscribe function."""
        ...


@dataclass(frozen=True)
class Binding:
    """The integration the provider gives its subtree, and the event loop it runs on."""

    integration: PyAirtableIntegration
    loop: asyncio.AbstractEventLoop

    def call(self, function: Callable[[], T]) -> T:
        """Run ``function`` on the integration's loop and return its result (or raise its error).

        Raises:
            RuntimeError: the loop is closed.
        """
        if _running_loop() is self.loop:
            return function()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(function())
            except BaseException as exc:
                future.set_exception(exc)

        self.loop.call_soon_threadsafe(run)
        return future.result()

    def soon(self, function: Callable[[], None]) -> None:
        """Run ``function`` on the integration's loop, without waiting for it."""
        if _running_loop() is self.loop:
            function()
        elif not self.loop.is_closed():
            self.loop.call_soon_threadsafe(function)

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coroutine`` on the integration's loop; its future (never awaited by Solara)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)


_binding_context = solara.create_context(None)


@solara.component
def PyAirtableProvider(
    integration: PyAirtableIntegration,
    loop: asyncio.AbstractEventLoop,
    children: list[solara.Element] | None = None,
) -> solara.Element:
    """Give ``integration`` (running on ``loop``) to every hook in ``children``."""
    binding = solara.use_memo(lambda: Binding(integration, loop), [integration, loop])
    solara.provide_context(_binding_context, binding)
    return solara.Column(children=list(children or []), gap="0px")


def use_pyairtable() -> Binding:
    """The provider's binding: ``.integration`` and ``.loop``.

    Raises:
        RuntimeError: the component is not inside a ``PyAirtableProvider``.
    """
    binding = solara.use_context(_binding_context)
    if not isinstance(binding, Binding):
        raise RuntimeError("use_pyairtable() needs a PyAirtableProvider above the component.")
    return binding


def use_query(observable: Observable[S]) -> S:
    """The observer's state, re-rendering the component on every change while it is mounted."""
    binding = use_pyairtable()
    state, set_state = solara.use_state(observable.state)
    follow = solara.use_memo(lambda: _follower(binding, observable, set_state), [observable])
    solara.use_effect(follow, [observable])
    current: S = state
    return current


def use_live(select: Callable[[Live], Observable[S]], dependencies: Sequence[Any]) -> S:
    """The state of the observer ``select(pa.live)`` picks (``lambda live: live.tables(base)``),
    chosen again when ``dependencies`` change, kept live while mounted."""
    binding = use_pyairtable()

    def observable() -> Observable[S]:
        live = binding.integration.live
        return binding.call(lambda: select(live))

    chosen: Observable[S] = solara.use_memo(observable, [binding, *dependencies])
    return use_query(chosen)


def use_records(
    table_id: str,
    *,
    view_id: str | None = None,
    filter: Mapping[str, Any] | None = None,
    sort: Sequence[Mapping[str, str]] | None = None,
    fields: Sequence[str] | None = None,
) -> QueryState[list[Record]]:
    """The records of a table (as the query options select them), kept live."""
    binding = use_pyairtable()
    key = json.dumps([table_id, view_id, filter, sort, fields], sort_keys=True, default=str)

    def query() -> Observable[QueryState[list[Record]]]:
        live = binding.integration.live
        return binding.call(
            lambda: live.records(
                table_id,
                view_id=view_id,
                filter=None if filter is None else dict(filter),
                sort=None if sort is None else [_sort_key(item) for item in sort],
                fields=None if fields is None else list(fields),
            )
        )

    observable = solara.use_memo(query, [key])
    return use_query(observable)


def use_realtime(
    callback: Callable[[Event], None],
    *,
    table_id: str | None = None,
    channel: Channel = "record",
    filters: Mapping[str, str] | None = None,
) -> None:
    """Call ``callback(event)`` (in the kernel's context) for each event while mounted.

    ``table_id`` is shorthand for ``filters={"table_id": table_id}``.
    """
    binding = use_pyairtable()
    wanted = dict(filters or {})
    if table_id is not None:
        wanted["table_id"] = table_id
    latest = solara.use_ref(callback)
    latest.current = callback  # the newest closure, without resubscribing on every render
    key = json.dumps([channel, wanted], sort_keys=True)

    def follow() -> Callable[[], None]:
        context = _kernel_context()
        alive = [True]
        subscription: list[Any] = []

        def deliver(event: Event) -> None:
            if alive[0]:
                _within(context, lambda: latest.current(event))

        def start() -> None:
            if alive[0]:
                realtime = binding.integration.realtime
                subscription.append(realtime.subscribe(channel, wanted, deliver))

        def stop() -> None:
            for each in subscription:
                binding.integration.realtime.unsubscribe(each)
            subscription.clear()

        binding.soon(start)

        def cleanup() -> None:
            alive[0] = False
            binding.soon(stop)

        return cleanup

    solara.use_effect(follow, [key])


def use_optimistic_update(
    function: Callable[..., Coroutine[Any, Any, Any]] | None = None,
) -> tuple[Mutate, MutationState[Any]]:
    """A ``mutate(*args)`` that runs ``function`` (default ``pa.mutate.update_record``) as a
    live mutation, and that mutation's state (pending, success, error, is_optimistic).

    ``mutate`` returns at once with a ``concurrent.futures.Future`` of the result; a rejected
    write shows in the state's ``error`` (the optimistic change is already rolled back).
    """
    binding = use_pyairtable()
    latest = solara.use_ref(function)
    latest.current = function

    def create() -> Any:
        def run(*args: Any, **kwargs: Any) -> Coroutine[Any, Any, Any]:
            chosen = latest.current or binding.integration.mutate.update_record
            return chosen(*args, **kwargs)

        return binding.call(lambda: binding.integration.live.mutation(run))

    mutation = solara.use_memo(create, [binding])
    state: MutationState[Any] = use_query(mutation)

    def mutate(*args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        return binding.submit(_settled(mutation.run(*args, **kwargs)))

    return mutate, state


def use_connection() -> ConnectionView:
    """The connection as users see it: realtime status, transport, pending writes, online."""
    binding = use_pyairtable()
    connection = solara.use_memo(lambda: binding.integration.live.connection, [binding])
    view: ConnectionView = use_query(connection)
    return view


def _sort_key(item: Mapping[str, str]) -> SortKey:
    direction = item.get("direction", "asc")
    return {"field": item["field"], "direction": "desc" if direction == "desc" else "asc"}


def _follower(
    binding: Binding, observable: Observable[S], set_state: Callable[[S], None]
) -> Callable[[], Callable[[], None]]:
    """The effect that subscribes the component to ``observable`` and its cleanup."""

    def follow() -> Callable[[], None]:
        context = _kernel_context()
        alive = [True]
        stops: list[Callable[[], None]] = []

        def listener(state: S) -> None:
            if alive[0]:
                _within(context, lambda: set_state(state))

        def start() -> None:
            if alive[0]:
                stops.append(observable.subscribe(listener))
                listener(observable.state)  # whatever changed between render and subscribe

        def stop() -> None:
            for each in stops:
                each()
            stops.clear()

        binding.soon(start)

        def cleanup() -> None:
            alive[0] = False  # no state update reaches an unmounted component
            binding.soon(stop)

        return cleanup

    return follow


async def _settled(awaitable: Coroutine[Any, Any, T]) -> T | None:
    # The mutation's state carries its error for the UI; the future must not also log it as
    # an exception nobody retrieved.
    try:
        return await awaitable
    except Exception:
        return None


def _kernel_context() -> kernel_context.VirtualKernelContext | None:
    if kernel_context.has_current_context():
        return kernel_context.get_current_context()
    return None


def _within(
    context: kernel_context.VirtualKernelContext | None, action: Callable[[], None]
) -> None:
    # Solara finds a component's kernel through the calling thread; a listener runs on the
    # integration's loop thread, so it enters the kernel it was subscribed from.
    if context is None:
        action()
        return
    with context:
        action()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


__all__ = [
    "Binding",
    "Observable",
    "PyAirtableProvider",
    "use_connection",
    "use_live",
    "use_optimistic_update",
    "use_pyairtable",
    "use_query",
    "use_realtime",
    "use_records",
]
