"""The one listener mechanism: subscribe returns unsubscribe, one error policy for all."""

from __future__ import annotations

import logging

import pytest

from pyairtable_integration._subscribable import Listeners


def test_listeners_are_called_in_order_and_unsubscribe_once_each() -> None:
    heard: list[str] = []
    listeners: Listeners[int] = Listeners("test")
    stop_a = listeners.subscribe(lambda value: heard.append(f"a{value}"))
    stop_b = listeners.subscribe(lambda value: heard.append(f"b{value}"))
    listeners.emit(1)
    stop_a()
    stop_a()  # harmless
    listeners.emit(2)
    assert heard == ["a1", "b1", "b2"]
    assert len(listeners) == 1
    stop_b()
    assert not listeners


def test_the_same_listener_twice_is_called_twice_and_removed_one_registration_at_a_time() -> None:
    heard: list[int] = []
    listeners: Listeners[int] = Listeners("test")
    first = listeners.subscribe(heard.append)
    listeners.subscribe(heard.append)
    listeners.emit(1)
    first()
    listeners.emit(2)
    assert heard == [1, 1, 2]


def test_a_failing_listener_is_logged_and_the_others_still_hear(
    caplog: pytest.LogCaptureFixture,
) -> None:
    heard: list[int] = []
    listeners: Listeners[int] = Listeners("widget")

    def broken(value: int) -> None:
        raise RuntimeError("boom")

    listeners.subscribe(broken)
    listeners.subscribe(heard.append)
    with caplog.at_level(logging.ERROR, logger="pyairtable_integration"):
        listeners.emit(7)
    assert heard == [7]
    assert "a widget listener failed" in caplog.text and "boom" in caplog.text


def test_a_listener_subscribing_while_called_hears_the_next_emission_only() -> None:
    heard: list[str] = []
    listeners: Listeners[int] = Listeners("test")

    def adds(value: int) -> None:
        heard.append(f"adds{value}")
        listeners.subscribe(lambda later: heard.append(f"late{later}"))

    stop = listeners.subscribe(adds)
    listeners.emit(1)
    stop()
    listeners.emit(2)
    assert heard == ["adds1", "late2"]


@pytest.mark.anyio
async def test_emit_async_awaits_coroutine_listeners_in_order() -> None:
    heard: list[int] = []
    listeners: Listeners[int] = Listeners("test")

    async def slow(value: int) -> None:
        heard.append(value * 10)

    listeners.subscribe(slow)
    listeners.subscribe(heard.append)
    await listeners.emit_async(3)
    assert heard == [30, 3]
