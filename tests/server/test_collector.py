"""A started server has frozen its start-up heap out of the collector's sight and collects young
objects less often (``collector``): full collections no longer walk ~200,000 objects."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest
from asgi_lifespan import LifespanManager

from pyairtable_server import collector
from pyairtable_server.app import create_app

from .backend import build_settings

pytestmark = pytest.mark.anyio


async def test_a_started_app_has_frozen_the_heap_and_raised_the_young_threshold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As in a fresh process: in a test worker, an app started by an earlier test settled the
    # collector already, and mypy run in process (test_sync_twins) unfreezes and resets it.
    monkeypatch.setattr(collector, "_settled", False)
    app = create_app(build_settings(None, tmp_path / "data"))
    async with LifespanManager(app, startup_timeout=60):
        assert gc.get_freeze_count() > 10_000
        assert gc.get_threshold()[0] == collector.YOUNG_THRESHOLD
        frozen = gc.get_freeze_count()
        collector.settle()  # once per process: a second app changes nothing
        assert gc.get_freeze_count() == frozen


def test_objects_made_after_the_freeze_are_still_collected() -> None:
    collector.settle()

    class Cycle:
        me: object

    made = Cycle()
    made.me = made
    ref = weakref.ref(made)
    del made
    gc.collect()
    assert ref() is None
