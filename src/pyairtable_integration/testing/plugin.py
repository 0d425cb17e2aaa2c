"""A pytest plugin: the reference backend in-process, as the ``pyairtable`` fixture.

Enable it in a ``conftest.py`` with ``pytest_plugins = ["pyairtable_integration.testing.plugin"]``
(it needs the ``[server]`` extra and an async test runner such as anyio's pytest plugin). Each
test gets a fresh backend on its own SQLite file in ``tmp_path``; see ``InProcessBackend``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ._backend import InProcessBackend, in_process_backend


@pytest.fixture
async def pyairtable(tmp_path: Path) -> AsyncIterator[InProcessBackend]:
    """A started reference backend; ``await pyairtable.integration()`` makes clients on it."""
    async with in_process_backend(tmp_path / "pyairtable-backend") as backend:
        yield backend
