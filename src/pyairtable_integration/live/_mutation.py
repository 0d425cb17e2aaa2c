"""A live mutation: a write that observers watch go from pending to success or error.

The write itself is any coroutine function (``pa.mutate.update_record``, ``pa.offline.
create_record``, your own); the optimistic change it shows lives in the record cache, so the
live queries that show the record change with it. A write the offline outbox queued (it raised
``OfflineError``) stays ``pending`` and ``is_paused`` until the outbox sends it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Generic, ParamSpec, TypeVar

from .._errors import OfflineError, ServiceError
from .._subscribable import Listeners
from ..offline import OfflineOutbox, OutboxEvent
from ..store import (
    Failed,
    MutationAction,
    MutationState,
    Paused,
    Reset,
    Started,
    Succeeded,
    reduce_mutation,
)

P = ParamSpec("P")
T = TypeVar("T")
logger = logging.getLogger("pyairtable_integration.live")
MutationListener = Callable[[MutationState[T]], None]


class LiveMutation(Generic[P, T]):
    """Run ``fn`` and publish its progress as ``state`` (``pa.live.mutation(fn)``)."""

    def __init__(
        self,
        fn: Callable[P, Awaitable[T]],
        *,
        optimistic: bool,
        outbox: OfflineOutbox,
    ) -> None:
        self._fn = fn
        self._optimistic = optimistic
        self._outbox = outbox
        self._state: MutationState[T] = MutationState()
        self._observers: Listeners[MutationState[T]] = Listeners("live mutation observer")
        self._stop_waiting: Callable[[], None] | None = None

    def __repr__(self) -> str:
        return f"LiveMutation(status={self._state.status!r})"

    @property
    def state(self) -> MutationState[T]:
        """The mutation now."""
        return self._state

    @property
    def observer_count(self) -> int:
        """How many observers are subscribed."""
        return len(self._observers)

    def subscribe(self, listener: MutationListener[T]) -> Callable[[], None]:
        """Call ``listener(state)`` on every change; returns the function that unsubscribes.

        When the last observer leaves, a wait on the outbox for a queued write stops too.
        """
        stop = self._observers.subscribe(listener)
        subscribed = True

        def unsubscribe() -> None:
            nonlocal subscribed
            if subscribed:
                subscribed = False
                stop()
                if not self._observers:
                    self._stop_outbox_wait()

        return unsubscribe

    async def run(self, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run the write; its result.

        Raises:
            OfflineError: the outbox queued the write (the state stays pending and paused
                until it is sent).
            ServiceError: the write failed (the state is ``error``).
        """
        self._stop_outbox_wait()
        self._dispatch(Started(optimistic=self._optimistic))
        try:
            result = await self._fn(*args, **kwargs)
        except OfflineError as error:
            self._dispatch(Paused())
            self._wait_for_entry(error.entry_id)
            raise
        except ServiceError as error:
            self._dispatch(Failed(error))
            raise
        self._dispatch(Succeeded(result))
        return result

    def reset(self) -> None:
        """Back to ``idle`` (a form cleared after showing the outcome)."""
        self._stop_outbox_wait()
        self._dispatch(Reset())

    def _wait_for_entry(self, entry_id: str | None) -> None:
        if entry_id is None:
            return

        def changed(event: OutboxEvent) -> None:
            if event.entry.id != entry_id:
                return
            if event.kind == "sent":
                self._stop_outbox_wait()
                self._dispatch(Succeeded(event.entry.result))
            elif event.kind in ("failed", "dropped"):
                self._stop_outbox_wait()
                error = event.error or ServiceError(event.entry.error or "the write failed")
                self._dispatch(Failed(error))

        self._stop_waiting = self._outbox.on_change(changed)

    def _stop_outbox_wait(self) -> None:
        stop, self._stop_waiting = self._stop_waiting, None
        if stop is not None:
            stop()

    def _dispatch(self, action: MutationAction) -> None:
        state = reduce_mutation(self._state, action)
        if state is not self._state:
            self._state = state
            self._observers.emit(state)
