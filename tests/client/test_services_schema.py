"""Base, table, field and view services against the real backend: CRUD, paging, laziness."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from pyairtable_integration import PyAirtableIntegration
from pyairtable_integration._errors import (
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)

from .conftest import Backend

pytestmark = pytest.mark.anyio


async def _lazily(
    backend: Backend, path: str, items: AsyncIterator[Any]
) -> tuple[list[Any], list[int]]:
    """Every item of ``items`` and how many GETs of ``path`` the server had seen after each."""
    before = backend.count("GET", path)
    seen: list[Any] = []
    counts: list[int] = []
    async for item in items:
        seen.append(item)
        counts.append(backend.count("GET", path) - before)
    return seen, counts


async def _workspace(pa: PyAirtableIntegration) -> str:
    return (await pa.services.workspace.create_workspace(name="Schema")).id


async def test_base_crud_round_trips_and_pages(pa: PyAirtableIntegration, backend: Backend) -> None:
    workspace_id = await _workspace(pa)
    created = [
        await pa.services.base.create_base(
            workspace_id=workspace_id, name=f"B{n}", description="d" if n == 0 else None
        )
        for n in range(3)
    ]

    page = await pa.services.base.get_bases(workspace_id, page=2, per_page=2)
    fetched = await pa.services.base.get_base(created[0].id)
    renamed = await pa.services.base.update_base(created[0].id, name="Renamed")
    bases, counts = await _lazily(
        backend, "/api/v1/bases", pa.services.base.iter_bases(workspace_id, per_page=2)
    )
    await pa.services.base.delete_base(created[1].id)

    assert (created[0].workspace_id, created[0].description, created[1].description) == (
        workspace_id,
        "d",
        "",
    )
    assert [base.id for base in page.data] == [created[2].id]
    assert (page.pagination.page, page.pagination.total, page.pagination.has_prev) == (2, 3, True)
    assert not page.pagination.has_next
    assert fetched == created[0]
    assert (renamed.name, renamed.description) == ("Renamed", "d")
    assert [base.id for base in bases] == [base.id for base in created]
    assert counts == [1, 1, 2]
    with pytest.raises(NotFoundError):
        await pa.services.base.get_base(created[1].id)
    assert (await pa.services.base.get_bases(workspace_id)).pagination.total == 2


async def test_base_writes_need_an_owner_or_admin(
    pa: PyAirtableIntegration, backend: Backend
) -> None:
    owner = await backend.user()
    workspace = await backend.api.workspace(owner)
    assert pa.auth.user is not None
    member = await backend.api.login(pa.auth.user.email)
    await backend.api.add_member(owner, workspace["id"], member, "editor")

    with pytest.raises(PermissionDeniedError):
        await pa.services.base.create_base(workspace_id=workspace["id"], name="No")


async def test_table_crud_with_fields_primary_field_and_paging(
    pa: PyAirtableIntegration, backend: Backend
) -> None:
    workspace_id = await _workspace(pa)
    base = await pa.services.base.create_base(workspace_id=workspace_id, name="B")

    default = await pa.services.table.create_table(base_id=base.id, name="Plain")
    table = await pa.services.table.create_table(
        base_id=base.id,
        name="People",
        description="who",
        fields=[
            {"name": "Full name", "type": "text"},
            {"name": "Age", "type": "number", "required": False, "options": {"precision": 0}},
        ],
    )
    age = next(field for field in table.fields if field.name == "Age")
    repointed = await pa.services.table.update_table(
        table.id, name="Persons", primary_field_id=age.id
    )
    page = await pa.services.table.get_tables(base.id, page=1, per_page=1)
    tables, counts = await _lazily(
        backend, "/api/v1/tables", pa.services.table.iter_tables(base.id, per_page=1)
    )

    assert [field.name for field in default.fields] == ["Name"]
    assert default.primary_field_id == default.fields[0].id
    assert [(field.name, field.type) for field in table.fields] == [
        ("Full name", "text"),
        ("Age", "number"),
    ]
    assert (table.description, table.field_count) == ("who", 2)
    assert (repointed.name, repointed.description, repointed.primary_field_id) == (
        "Persons",
        "who",
        age.id,
    )
    assert (await pa.services.table.get_table(table.id)).primary_field_id == age.id
    assert [t.id for t in page.data] == [default.id] and page.pagination.has_next
    assert [t.id for t in tables] == [default.id, table.id]
    assert counts == [1, 2]
    with pytest.raises(InvalidRequestError):
        await pa.services.table.update_table(table.id, primary_field_id=default.fields[0].id)
    await pa.services.table.delete_table(default.id)
    with pytest.raises(NotFoundError):
        await pa.services.table.get_table(default.id)


async def test_field_crud_renames_converts_and_keeps_the_primary(
    pa: PyAirtableIntegration, backend: Backend
) -> None:
    workspace_id = await _workspace(pa)
    base = await pa.services.base.create_base(workspace_id=workspace_id, name="B")
    table = await pa.services.table.create_table(base_id=base.id, name="T")
    primary = table.fields[0]

    count = await pa.services.field.create_field(table_id=table.id, name="Count", type="text")
    status = await pa.services.field.create_field(
        table_id=table.id,
        name="Status",
        type="select",
        required=True,
        options={"choices": ["open", "done"]},
    )
    record = await pa.services.record.create_record(table.id, {"Count": "7", "Status": "open"})
    converted = await pa.services.field.update_field(count.id, name="Total", type="number")
    page = await pa.services.field.get_fields(table.id, per_page=2)
    fields, counts = await _lazily(
        backend, "/api/v1/fields", pa.services.field.iter_fields(table.id, per_page=2)
    )

    # Plain choices come back normalized to ``{"name", "color"}``.
    assert status.required
    assert [choice["name"] for choice in status.options["choices"]] == ["open", "done"]
    assert (converted.name, converted.type, converted.table_id) == ("Total", "number", table.id)
    assert (await pa.services.field.get_field(count.id)).name == "Total"
    assert (await pa.services.record.get_record(record.id)).fields["Total"] == 7
    assert page.pagination.total == 3 and page.pagination.has_next
    assert [f.id for f in fields] == [primary.id, count.id, status.id]
    assert counts == [1, 1, 2]
    with pytest.raises(InvalidRequestError):
        await pa.services.field.delete_field(primary.id)
    await pa.services.field.delete_field(status.id)
    with pytest.raises(NotFoundError):
        await pa.services.field.get_field(status.id)
    assert "Status" not in (await pa.services.record.get_record(record.id)).fields


async def test_view_crud_keeps_type_and_replaces_the_configuration(
    pa: PyAirtableIntegration, backend: Backend
) -> None:
    workspace_id = await _workspace(pa)
    base = await pa.services.base.create_base(workspace_id=workspace_id, name="B")
    table = await pa.services.table.create_table(base_id=base.id, name="T")

    grid = await pa.services.view.create_view(table_id=table.id, name="All")
    kanban = await pa.services.view.create_view(
        table_id=table.id,
        name="Sorted",
        type="kanban",
        configuration={"sorts": [{"field": "Name", "direction": "desc"}]},
    )
    renamed = await pa.services.view.update_view(kanban.id, name="By name")
    replaced = await pa.services.view.update_view(
        kanban.id,
        configuration={
            "filters": {
                "conjunction": "and",
                "conditions": [{"field": "Name", "operator": "is_not_empty"}],
            }
        },
    )
    page = await pa.services.view.get_views(table.id, per_page=1)
    views, counts = await _lazily(
        backend, "/api/v1/views", pa.services.view.iter_views(table.id, per_page=1)
    )

    assert (grid.type, kanban.type) == ("grid", "kanban")
    assert kanban.configuration["sorts"][0]["direction"] == "desc"
    assert (renamed.name, renamed.type) == ("By name", "kanban")
    assert renamed.configuration["sorts"] == kanban.configuration["sorts"]
    assert not replaced.configuration.get("sorts")
    assert replaced.configuration["filters"]["conditions"][0]["operator"] == "is_not_empty"
    assert (await pa.services.view.get_view(kanban.id)) == replaced
    assert page.pagination.total == 2 and page.pagination.has_next
    assert [view.id for view in views] == [grid.id, kanban.id]
    assert counts == [1, 2]
    with pytest.raises(InvalidRequestError):
        await pa.services.view.create_view(
            table_id=table.id, name="Bad", configuration={"sorts": [{"field": "Nope"}]}
        )
    await pa.services.view.delete_view(grid.id)
    with pytest.raises(NotFoundError):
        await pa.services.view.get_view(grid.id)
