"""The live layer's state reducer, without an event loop: data status apart from fetch status."""

from __future__ import annotations

from datetime import UTC, datetime

from pyairtable_integration import NetworkError, NotFoundError
from pyairtable_integration.live import MutationState, QueryState
from pyairtable_integration.live._state import (
    Change,
    Fail,
    Fetch,
    Fresh,
    Idle,
    Invalidate,
    Pause,
    Resolve,
    reduce_query,
)
from pyairtable_integration.store import Failed, Paused, Started, Succeeded, reduce_mutation

AT = datetime(2030, 1, 1, tzinfo=UTC)


def test_a_first_fetch_goes_pending_fetching_then_success_idle_and_fresh() -> None:
    start: QueryState[list[int]] = QueryState()
    assert (start.status, start.fetch_status, start.is_stale) == ("pending", "idle", True)
    fetching = reduce_query(start, Fetch())
    assert (fetching.status, fetching.fetch_status) == ("pending", "fetching")
    done = reduce_query(fetching, Resolve([1, 2], False, AT))
    assert (done.status, done.fetch_status, done.data) == ("success", "idle", [1, 2])
    assert not done.is_stale and done.updated_at == AT and done.error is None


def test_a_connection_failure_pauses_and_keeps_data_and_status() -> None:
    ok = reduce_query(QueryState[list[int]](), Resolve([1], False, AT))
    paused = reduce_query(reduce_query(ok, Fetch()), Fail(NetworkError("down")))
    assert (paused.status, paused.fetch_status, paused.data) == ("success", "paused", [1])
    assert paused.error is None and paused.is_paused


def test_an_answered_failure_is_an_error_that_keeps_the_last_data() -> None:
    ok = reduce_query(QueryState[list[int]](), Resolve([1], False, AT))
    error = NotFoundError("gone", code=404)
    failed = reduce_query(reduce_query(ok, Fetch()), Fail(error))
    assert (failed.status, failed.fetch_status, failed.error) == ("error", "idle", error)
    assert failed.data == [1]
    recovered = reduce_query(failed, Resolve([2], False, AT))
    assert (recovered.status, recovered.error, recovered.data) == ("success", None, [2])


def test_stale_data_stays_shown_while_it_revalidates() -> None:
    ok = reduce_query(QueryState[list[int]](), Resolve([1], False, AT))
    stale = reduce_query(ok, Invalidate())
    revalidating = reduce_query(stale, Fetch())
    assert revalidating.is_stale and revalidating.is_fetching and revalidating.data == [1]
    assert revalidating.status == "success"
    assert not reduce_query(revalidating, Resolve([1], False, AT)).is_stale
    assert not reduce_query(stale, Fresh()).is_stale


def test_a_cache_change_replaces_data_and_optimism_but_not_fetch_status() -> None:
    ok = reduce_query(QueryState[list[int]](), Resolve([1], False, AT))
    fetching = reduce_query(ok, Fetch())
    shown = reduce_query(fetching, Change([1, 9], True, AT))
    assert (shown.data, shown.is_optimistic, shown.fetch_status) == ([1, 9], True, "fetching")
    confirmed = reduce_query(shown, Change([1, 9], False, AT))
    assert not confirmed.is_optimistic


def test_a_happening_that_changes_nothing_returns_the_same_state() -> None:
    ok = reduce_query(QueryState[list[int]](), Resolve([1], False, AT))
    assert reduce_query(ok, Change([1], False, AT)) is ok
    assert reduce_query(ok, Idle()) is ok
    assert reduce_query(ok, Fresh()) is ok
    paused = reduce_query(ok, Pause())
    assert reduce_query(paused, Pause()) is paused
    assert reduce_query(paused, Idle()).fetch_status == "idle"


def test_a_mutation_goes_pending_then_success_or_error_and_pauses_when_queued() -> None:
    start: MutationState[str] = MutationState()
    assert start.status == "idle"
    running: MutationState[str] = reduce_mutation(start, Started(optimistic=True))
    assert (running.status, running.is_optimistic) == ("pending", True)
    assert reduce_mutation(running, Succeeded("done")) == MutationState(
        status="success", data="done"
    )
    error = NotFoundError("gone", code=404)
    failed = reduce_mutation(running, Failed(error))
    assert (failed.status, failed.error, failed.is_optimistic) == ("error", error, False)
    queued = reduce_mutation(running, Paused())
    assert (queued.status, queued.is_paused, queued.is_optimistic) == ("pending", True, True)
