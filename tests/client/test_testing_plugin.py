"""The public pytest plugin: the reference backend in-process for code that uses the SDK."""

from __future__ import annotations

import pytest

from pyairtable_integration.testing import InProcessBackend

pytest_plugins = ["pyairtable_integration.testing.plugin"]
pytestmark = pytest.mark.anyio


async def test_the_plugin_gives_a_running_backend_and_signed_in_clients(
    pyairtable: InProcessBackend,
) -> None:
    first = await pyairtable.integration()
    await pyairtable.sign_in(first)
    workspace = await first.services.workspace.create_workspace(name="From the plugin")
    second = await pyairtable.integration()
    await pyairtable.sign_in(second)
    assert [w.name async for w in first.services.workspace.iter_workspaces()] == ["From the plugin"]
    assert [w.id async for w in second.services.workspace.iter_workspaces()] == []
    assert workspace.id.startswith("wsp")
