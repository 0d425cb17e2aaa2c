"""WebhookService against the real backend and a real receiver: CRUD, deliveries, retry, test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from pyairtable_integration import PyAirtableIntegration
from pyairtable_integration._errors import ConflictError, NotFoundError, PermissionDeniedError

from ..server.webhook_receiver import Receiver
from .conftest import Backend, running_backend

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
async def backend(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Backend]:
    """The module's backend, allowed to send to the receiver on localhost."""
    data_dir = tmp_path_factory.mktemp("client") / "data"
    async with running_backend(data_dir, webhook_allow_private_targets=True) as running:
        yield running


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


async def _workspace_with_table(pa: PyAirtableIntegration) -> tuple[str, str]:
    workspace = await pa.services.workspace.create_workspace(name="Hooks")
    base = await pa.services.base.create_base(workspace_id=workspace.id, name="B")
    table = await pa.services.table.create_table(base_id=base.id, name="T")
    return workspace.id, table.id


async def test_create_shows_the_secret_once_and_crud_round_trips(
    pa: PyAirtableIntegration, receiver: Receiver
) -> None:
    workspace_id, table_id = await _workspace_with_table(pa)

    created = await pa.services.webhook.create_webhook(
        url=receiver.url,
        event_types=["record.*"],
        workspace_id=workspace_id,
        table_id=table_id,
        is_active=False,
    )
    fetched = await pa.services.webhook.get_webhook(created.id)
    kept = await pa.services.webhook.update_webhook(created.id, event_types=["record.created"])
    widened = await pa.services.webhook.update_webhook(created.id, table_id=None, is_active=True)

    assert created.secret.startswith("whsec_")
    assert (created.table_id, created.is_active, created.event_types) == (
        table_id,
        False,
        ["record.*"],
    )
    assert "secret" not in fetched.model_dump() and fetched.id == created.id
    # Left out (the KEEP default): the table filter stays.
    assert (kept.event_types, kept.table_id, kept.is_active) == (
        ["record.created"],
        table_id,
        False,
    )
    assert (widened.table_id, widened.is_active, widened.url) == (None, True, receiver.url)
    await pa.services.webhook.delete_webhook(created.id)
    with pytest.raises(NotFoundError):
        await pa.services.webhook.get_webhook(created.id)


async def test_webhooks_list_by_workspace_pages_and_iterates_lazily(
    pa: PyAirtableIntegration, backend: Backend, receiver: Receiver
) -> None:
    workspace_id, _ = await _workspace_with_table(pa)
    other = await pa.services.workspace.create_workspace(name="Other")
    made = [
        await pa.services.webhook.create_webhook(
            url=receiver.url, event_types=["*"], workspace_id=workspace_id
        )
        for _ in range(2)
    ]
    elsewhere = await pa.services.webhook.create_webhook(
        url=receiver.url, event_types=["*"], workspace_id=other.id
    )

    page = await pa.services.webhook.get_webhooks(workspace_id=workspace_id, per_page=1)
    everywhere = await pa.services.webhook.get_webhooks()
    before = backend.count("GET", "/api/v1/webhooks")
    counts: list[int] = []
    seen: list[str] = []
    async for webhook in pa.services.webhook.iter_webhooks(workspace_id=workspace_id, per_page=1):
        seen.append(webhook.id)
        counts.append(backend.count("GET", "/api/v1/webhooks") - before)

    assert [w.id for w in page.data] == [made[0].id]
    assert (page.pagination.total, page.pagination.has_next) == (2, True)
    assert {w.id for w in everywhere.data} == {made[0].id, made[1].id, elsewhere.id}
    assert seen == [w.id for w in made] and counts == [1, 2]


async def test_webhook_management_needs_an_owner_or_admin(
    pa: PyAirtableIntegration, backend: Backend, receiver: Receiver
) -> None:
    owner = await backend.user()
    workspace = await backend.api.workspace(owner)
    assert pa.auth.user is not None
    me = await backend.api.login(pa.auth.user.email)
    await backend.api.add_member(owner, workspace["id"], me, "editor")

    with pytest.raises(PermissionDeniedError):
        await pa.services.webhook.create_webhook(
            url=receiver.url, event_types=["*"], workspace_id=workspace["id"]
        )


async def test_test_webhook_sends_now_and_deliveries_list_filter_and_retry(
    pa: PyAirtableIntegration, backend: Backend, receiver: Receiver
) -> None:
    workspace_id, _ = await _workspace_with_table(pa)
    # No real event of this test matches, so only the test sends reach the receiver.
    hook = await pa.services.webhook.create_webhook(
        url=receiver.url, event_types=["record.deleted"], workspace_id=workspace_id
    )
    receiver.answer(500, then=200)

    failed = await pa.services.webhook.test_webhook(hook.id)
    succeeded = await pa.services.webhook.test_webhook(hook.id)
    listed = await pa.services.webhook.get_deliveries(hook.id)
    only_failed = await pa.services.webhook.get_deliveries(hook.id, status="failed")
    before = backend.count("GET", f"/api/v1/webhooks/{hook.id}/deliveries")
    counts: list[int] = []
    async for _ in pa.services.webhook.iter_deliveries(hook.id, per_page=1):
        counts.append(backend.count("GET", f"/api/v1/webhooks/{hook.id}/deliveries") - before)
    retried = await pa.services.webhook.retry_delivery(hook.id, failed.id)

    assert (failed.event_type, failed.status, failed.last_status_code) == (
        "webhook.test",
        "failed",
        500,
    )
    assert (succeeded.status, succeeded.last_status_code) == ("succeeded", 200)
    assert [r.status for r in receiver.received[:2]] == [500, 200]
    assert {d.id for d in listed.data} == {failed.id, succeeded.id}
    assert [d.id for d in only_failed.data] == [failed.id]
    assert counts == [1, 2]
    assert (retried.id, retried.status) == (failed.id, "pending")

    await pa.services.webhook.update_webhook(hook.id, is_active=False)
    with pytest.raises(ConflictError) as disabled:
        await pa.services.webhook.retry_delivery(hook.id, failed.id)
    assert disabled.value.current is not None and disabled.value.current["is_active"] is False
