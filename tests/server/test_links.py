"""Links between records (reference fields): deleting a record removes it from every link."""

from __future__ import annotations

from typing import Any

import pytest

from .backend import Actor, Api

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def api(module_api: Api) -> Api:
    return module_api


async def _linked_tables(api: Api) -> tuple[Actor, dict[str, Any], dict[str, Any]]:
    owner = await api.actor()
    workspace = await api.workspace(owner)
    base = await api.base(owner, workspace["id"])
    projects = await api.table(owner, base["id"])
    tasks = await api.table(
        owner,
        base["id"],
        [
            {"name": "Name", "type": "text"},
            {
                "name": "Project",
                "type": "reference",
                "options": {"referenced_table_id": projects["id"]},
            },
        ],
    )
    return owner, projects, tasks


async def _create(api: Api, owner: Actor, table_id: str, fields: dict[str, Any]) -> str:
    body = await api.post(owner, "/records", {"table_id": table_id, "fields": fields})
    return str(body["id"])


async def _record(api: Api, owner: Actor, record_id: str) -> dict[str, Any]:
    response = await api.client.get(f"/records/{record_id}", headers=owner.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_deleting_a_linked_record_unlinks_it_with_a_new_version_and_event(api: Api) -> None:
    owner, projects, tasks = await _linked_tables(api)
    p1 = await _create(api, owner, projects["id"], {"Name": "P1"})
    p2 = await _create(api, owner, projects["id"], {"Name": "P2"})
    task = await _create(api, owner, tasks["id"], {"Name": "T", "Project": [p1, p2]})
    position = (
        await api.client.get("/events", params={"since": 0, "limit": 1000}, headers=owner.headers)
    ).json()["next_since"]

    deleted = await api.client.delete(f"/records/{p1}", headers=owner.headers)
    assert deleted.status_code == 204

    after = await _record(api, owner, task)
    assert after["fields"]["Project"] == [p2]
    assert after["version"] == 2
    events = (
        await api.client.get("/events", params={"since": position}, headers=owner.headers)
    ).json()["data"]
    assert [(e["type"], e["aggregate_id"]) for e in events] == [
        ("record.deleted", p1),
        ("record.updated", task),
    ]
    assert events[1]["payload"]["changes"] == {"Project": {"old": [p1, p2], "new": [p2]}}


async def test_batch_delete_clears_a_link_entirely(api: Api) -> None:
    owner, projects, tasks = await _linked_tables(api)
    p1 = await _create(api, owner, projects["id"], {"Name": "P1"})
    p2 = await _create(api, owner, projects["id"], {"Name": "P2"})
    task = await _create(api, owner, tasks["id"], {"Name": "T", "Project": [p1, p2]})
    other = await _create(api, owner, tasks["id"], {"Name": "Unlinked"})

    await api.post(
        owner, "/records/batch-delete", {"table_id": projects["id"], "ids": [p1, p2]}, status=200
    )

    assert "Project" not in (await _record(api, owner, task))["fields"]
    assert (await _record(api, owner, other))["version"] == 1


async def test_links_within_one_table_are_cleaned_too(api: Api) -> None:
    owner = await api.actor()
    workspace = await api.workspace(owner)
    base = await api.base(owner, workspace["id"])
    table = await api.table(owner, base["id"])
    field = await api.post(
        owner,
        "/fields",
        {
            "table_id": table["id"],
            "name": "Parent",
            "type": "reference",
            "options": {"referenced_table_id": table["id"]},
        },
    )
    parent = await _create(api, owner, table["id"], {"Name": "parent"})
    child = await _create(api, owner, table["id"], {"Name": "child", field["name"]: [parent]})

    assert (await api.client.delete(f"/records/{parent}", headers=owner.headers)).status_code == 204

    assert "Parent" not in (await _record(api, owner, child))["fields"]
