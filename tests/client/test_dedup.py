"""Identical concurrent GETs share one request, counted where it matters: on the server."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from .conftest import Backend, IntegrationFactory, sign_in

pytestmark = pytest.mark.anyio

LIST = ("GET", "/api/v1/workspaces")


async def test_a_hundred_identical_reads_make_one_request(
    make_integration: IntegrationFactory, backend: Backend
) -> None:
    pa = await make_integration()
    await sign_in(pa, backend)
    await pa.services.workspace.create_workspace(name="Shared")
    before = backend.count(*LIST)
    pages = await asyncio.gather(*(pa.services.workspace.get_workspaces() for _ in range(100)))
    assert backend.count(*LIST) - before == 1
    assert all(page == pages[0] for page in pages)
    assert [w.name for w in pages[0].data] == ["Shared"]
    assert pa.get_metrics()["workspace"].deduplicated == 99


async def test_reads_of_different_users_are_not_shared(
    make_integration: IntegrationFactory, backend: Backend
) -> None:
    ada = await make_integration()
    bob = await make_integration()
    await sign_in(ada, backend)
    await sign_in(bob, backend)
    await ada.services.workspace.create_workspace(name="Ada's")
    before = backend.count(*LIST)
    pages = await asyncio.gather(
        *(pa.services.workspace.get_workspaces() for pa in [ada, bob] * 50)
    )
    assert backend.count(*LIST) - before == 2
    assert {len(page.data) for page in pages[0::2]} == {1}
    assert {len(page.data) for page in pages[1::2]} == {0}


async def test_reads_with_different_parameters_are_not_shared(
    make_integration: IntegrationFactory, backend: Backend
) -> None:
    pa = await make_integration()
    await sign_in(pa, backend)
    before = backend.count(*LIST)
    await asyncio.gather(
        *(pa.services.workspace.get_workspaces(per_page=size) for size in (5, 6, 5, 6))
    )
    assert backend.count(*LIST) - before == 2


async def test_without_deduplication_every_read_is_sent(
    make_integration: IntegrationFactory, backend: Backend
) -> None:
    pa = await make_integration(deduplicate_requests=False)
    await sign_in(pa, backend)
    before = backend.count(*LIST)
    await asyncio.gather(*(pa.services.workspace.get_workspaces() for _ in range(100)))
    assert backend.count(*LIST) - before == 100


async def test_identical_writes_are_never_shared(
    make_integration: IntegrationFactory, backend: Backend
) -> None:
    pa = await make_integration()
    await sign_in(pa, backend)
    name = "Twice-" + secrets.token_hex(4)
    before = backend.count("POST", "/api/v1/workspaces")
    created = await asyncio.gather(
        *(pa.services.workspace.create_workspace(name=name) for _ in range(5))
    )
    assert backend.count("POST", "/api/v1/workspaces") - before == 5
    assert len({workspace.id for workspace in created}) == 5


async def test_a_read_after_the_shared_one_finished_is_sent_again(
    make_integration: IntegrationFactory, backend: Backend
) -> None:
    pa = await make_integration()
    await sign_in(pa, backend)
    before = backend.count(*LIST)
    await pa.services.workspace.get_workspaces()
    await pa.services.workspace.get_workspaces()
    assert backend.count(*LIST) - before == 2
