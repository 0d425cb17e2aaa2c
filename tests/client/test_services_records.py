"""RecordService against the real backend: queries, cursors, writes, versions, batches."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from pyairtable_integration import PyAirtableIntegration
from pyairtable_integration._errors import (
    ConflictError,
    InvalidOffsetError,
    InvalidRequestError,
)
from pyairtable_integration.services.records import SortKey

from .conftest import Backend

pytestmark = pytest.mark.anyio

PEOPLE = [("Ada", 36, "math"), ("Grace", 85, "navy"), ("Alan", 41, "math"), ("Edsger", 72, "")]


async def _people(pa: PyAirtableIntegration) -> tuple[str, dict[str, str]]:
    """A table Name/Age/Team holding PEOPLE; its id and {name: record id}."""
    workspace = await pa.services.workspace.create_workspace(name="Records")
    base = await pa.services.base.create_base(workspace_id=workspace.id, name="B")
    table = await pa.services.table.create_table(
        base_id=base.id,
        name="People",
        fields=[
            {"name": "Name", "type": "text"},
            {"name": "Age", "type": "number"},
            {"name": "Team", "type": "text"},
        ],
    )
    created = await pa.services.record.create_records(
        table.id, [{"Name": name, "Age": age, "Team": team} for name, age, team in PEOPLE]
    )
    return table.id, {record.fields["Name"]: record.id for record in created}


def _names(records: list[Any]) -> list[str]:
    return [record.fields["Name"] for record in records]


async def test_fields_sort_and_filter_select_and_order_the_records(
    pa: PyAirtableIntegration,
) -> None:
    table_id, _ = await _people(pa)
    math_by_age_desc: dict[str, Any] = {
        "sort": [{"field": "Age", "direction": "desc"}],
        "filter": {
            "conjunction": "and",
            "conditions": [{"field": "Team", "operator": "equals", "value": "math"}],
        },
    }

    listed = await pa.services.record.get_records(
        table_id, fields=["Name", "Age"], **math_by_age_desc
    )
    queried = await pa.services.record.query_records(
        table_id, fields=["Name", "Age"], **math_by_age_desc
    )
    by_name = await pa.services.record.get_records(table_id, sort=[{"field": "Name"}])

    assert _names(listed.data) == ["Alan", "Ada"]
    assert all(set(record.fields) == {"Name", "Age"} for record in listed.data)
    assert [r.model_dump() for r in queried.data] == [r.model_dump() for r in listed.data]
    assert _names(by_name.data) == ["Ada", "Alan", "Edsger", "Grace"]
    assert listed.pagination.total == 2 and listed.pagination.next_offset is None
    assert listed.pagination.event_position > 0


async def test_a_view_applies_its_filters_and_sorts_before_the_request(
    pa: PyAirtableIntegration,
) -> None:
    table_id, _ = await _people(pa)
    view = await pa.services.view.create_view(
        table_id=table_id,
        name="Over 40",
        configuration={
            "sorts": [{"field": "Age", "direction": "asc"}],
            "filters": {
                "conjunction": "and",
                "conditions": [{"field": "Age", "operator": "greater_than", "value": 40}],
            },
        },
    )

    through_view = await pa.services.record.get_records(table_id, view_id=view.id)
    narrowed = await pa.services.record.query_records(
        table_id,
        view_id=view.id,
        filter={"conditions": [{"field": "Team", "operator": "is_not_empty"}]},
    )

    assert _names(through_view.data) == ["Alan", "Edsger", "Grace"]
    assert _names(narrowed.data) == ["Alan", "Grace"]


async def test_cursor_pages_carry_next_offset_until_the_last(pa: PyAirtableIntegration) -> None:
    table_id, _ = await _people(pa)
    order: list[SortKey] = [{"field": "Age", "direction": "asc"}]

    first = await pa.services.record.get_records(table_id, sort=order, page_size=3)
    assert first.pagination.next_offset is not None
    second = await pa.services.record.get_records(
        table_id, sort=order, page_size=3, offset=first.pagination.next_offset
    )
    queried = await pa.services.record.query_records(
        table_id, sort=order, page_size=3, offset=first.pagination.next_offset
    )

    assert (first.pagination.page_size, first.pagination.total, first.pagination.has_next) == (
        3,
        4,
        True,
    )
    assert _names(first.data) == ["Ada", "Alan", "Edsger"]
    assert _names(second.data) == _names(queried.data) == ["Grace"]
    assert not second.pagination.has_next and second.pagination.next_offset is None
    with pytest.raises(InvalidOffsetError):
        await pa.services.record.get_records(table_id, offset="not-an-offset")


async def test_iter_records_and_iter_query_records_fetch_pages_lazily(
    pa: PyAirtableIntegration, backend: Backend
) -> None:
    table_id, _ = await _people(pa)
    order: list[SortKey] = [{"field": "Name"}]

    for method, path, iterate in (
        ("GET", "/api/v1/records", pa.services.record.iter_records),
        ("POST", "/api/v1/records/query", pa.services.record.iter_query_records),
    ):
        before = backend.count(method, path)
        seen: list[str] = []
        counts: list[int] = []
        async for record in iterate(table_id, sort=order, fields=["Name"], page_size=3):
            seen.append(record.fields["Name"])
            counts.append(backend.count(method, path) - before)

        assert seen == ["Ada", "Alan", "Edsger", "Grace"], path
        assert counts == [1, 1, 1, 2], path


async def test_single_record_writes_merge_replace_typecast_and_delete(
    pa: PyAirtableIntegration,
) -> None:
    table_id, ids = await _people(pa)

    with pytest.raises(InvalidRequestError) as loose:
        await pa.services.record.create_record(table_id, {"Name": "Linus", "Age": "55"})
    cast = await pa.services.record.create_record(
        table_id, {"Name": "Linus", "Age": "55"}, typecast=True
    )
    merged = await pa.services.record.update_record(ids["Ada"], {"Age": 37})
    replaced = await pa.services.record.replace_record(ids["Grace"], {"Name": "Grace H."})
    await pa.services.record.delete_record(cast.id)

    assert "Age" in loose.value.details["fields"]
    assert (cast.fields["Age"], cast.version, cast.table_id) == (55, 1, table_id)
    assert merged.fields == {"Name": "Ada", "Age": 37, "Team": "math"}
    assert merged.version == 2
    assert replaced.fields.get("Age") is None and replaced.fields["Name"] == "Grace H."
    assert await pa.services.record.get_record(ids["Ada"]) == merged
    assert "Linus" not in _names((await pa.services.record.get_records(table_id)).data)


async def test_expected_version_sends_if_match_and_a_mismatch_is_a_conflict(
    pa: PyAirtableIntegration,
) -> None:
    table_id, ids = await _people(pa)
    moved = await pa.services.record.update_record(ids["Alan"], {"Age": 42}, expected_version=1)

    with pytest.raises(ConflictError) as stale_update:
        await pa.services.record.update_record(ids["Alan"], {"Age": 99}, expected_version=1)
    with pytest.raises(ConflictError) as stale_replace:
        await pa.services.record.replace_record(ids["Alan"], {"Name": "X"}, expected_version=1)
    with pytest.raises(ConflictError) as stale_delete:
        await pa.services.record.delete_record(ids["Alan"], expected_version=5)
    await pa.services.record.delete_record(ids["Alan"], expected_version=2)

    assert moved.version == 2
    for conflict in (stale_update, stale_replace, stale_delete):
        current = conflict.value.current
        assert current is not None
        assert (current["id"], current["version"], current["fields"]["Age"]) == (
            ids["Alan"],
            2,
            42,
        )
    remaining = await pa.services.record.get_records(table_id)
    assert "Alan" not in _names(remaining.data)


async def test_batches_create_update_and_delete_all_or_nothing(
    pa: PyAirtableIntegration,
) -> None:
    table_id, ids = await _people(pa)

    created = await pa.services.record.create_records(
        table_id, [{"Name": "Barbara", "Age": "80"}, {"Name": "Ken"}], typecast=True
    )
    with pytest.raises(InvalidRequestError) as bad_batch:
        await pa.services.record.create_records(
            table_id, [{"Name": "Fine"}, {"Name": "Bad", "Age": "old"}]
        )
    updated = await pa.services.record.update_records(
        table_id,
        [
            {"id": ids["Ada"], "fields": {"Team": "logic"}},
            {"id": created[1].id, "fields": {"Age": 81}},
        ],
    )
    with pytest.raises(InvalidRequestError):
        await pa.services.record.update_records(
            table_id,
            [
                {"id": ids["Ada"], "fields": {"Team": "x"}},
                {"id": "recMissing00000000", "fields": {}},
            ],
        )
    deleted = await pa.services.record.delete_records(table_id, [ids["Grace"], created[0].id])

    assert [record.fields.get("Age") for record in created] == [80, None]
    assert any(key.startswith("records.1.") for key in bad_batch.value.details["fields"])
    assert [(r.id, r.version) for r in updated] == [(ids["Ada"], 2), (created[1].id, 2)]
    assert updated[0].fields["Team"] == "logic" and updated[1].fields["Age"] == 81
    assert [(d.id, d.deleted) for d in deleted] == [(ids["Grace"], True), (created[0].id, True)]
    names = _names((await pa.services.record.get_records(table_id, sort=[{"field": "Name"}])).data)
    # Nothing of the refused batches applied: no "Fine", Ada's team is still "logic".
    assert names == ["Ada", "Alan", "Edsger", "Ken"]
    assert (await pa.services.record.get_record(ids["Ada"])).fields["Team"] == "logic"


async def test_a_caller_idempotency_key_makes_a_repeated_write_apply_once(
    pa: PyAirtableIntegration, backend: Backend
) -> None:
    table_id, ids = await _people(pa)
    key = uuid.uuid4().hex

    first = await pa.services.record.create_record(table_id, {"Name": "Once"}, idempotency_key=key)
    again = await pa.services.record.create_record(table_id, {"Name": "Once"}, idempotency_key=key)
    update_key = uuid.uuid4().hex
    await pa.services.record.update_record(ids["Ada"], {"Age": 1}, idempotency_key=update_key)
    replayed = await pa.services.record.update_record(
        ids["Ada"], {"Age": 1}, idempotency_key=update_key
    )

    assert again.id == first.id
    listed = await pa.services.record.get_records(table_id)
    assert _names(listed.data).count("Once") == 1
    assert replayed.version == 2
