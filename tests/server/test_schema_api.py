"""Bases, tables, fields and views (contract §5), and field validation on record writes (§6).

Everything goes through the HTTP API. The module shares one running app (see ``module_backend``);
each test signs up its own owner and builds the workspace, base and tables it needs, so tests stay
independent of each other and of what other tests leave in the database.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import httpx2
import pytest

from .backend import Actor, Api

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def api(module_api: Api) -> Api:
    """One app for the module; every test signs up users of its own."""
    return module_api


BASE_KEYS = {"id", "workspace_id", "name", "description", "table_count", "created_at", "updated_at"}
TABLE_KEYS = {
    "id",
    "base_id",
    "name",
    "description",
    "primary_field_id",
    "record_count",
    "field_count",
    "fields",
    "created_at",
    "updated_at",
}
FIELD_KEYS = {
    "id",
    "table_id",
    "name",
    "type",
    "is_primary",
    "required",
    "order",
    "options",
    "created_at",
    "updated_at",
}
VIEW_KEYS = {"id", "table_id", "name", "type", "order", "configuration", "created_at", "updated_at"}
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
FIELD_TYPES = (
    "text",
    "long_text",
    "number",
    "checkbox",
    "date",
    "datetime",
    "select",
    "multiselect",
    "email",
    "url",
    "phone",
    "attachment",
    "reference",
    "created_time",
    "last_modified_time",
    "autonumber",
)
COMPUTED = ("created_time", "last_modified_time", "autonumber")
MISSING_RECORD_ID = "rec" + "Z" * 16
MISSING_TABLE_ID = "tbl" + "Z" * 16


# --- helpers ---------------------------------------------------------------------------------


def assert_error(response: httpx2.Response, status: int, error_type: str) -> dict[str, Any]:
    """Assert the error envelope of contract §2; return its ``details``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["type"] == error_type
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    details: dict[str, Any] = body["error"]["details"]
    return details


def invalid(response: httpx2.Response) -> dict[str, Any]:
    """Assert a 422 VALIDATION_ERROR; return ``details``."""
    return assert_error(response, 422, "VALIDATION_ERROR")


def bad_fields(response: httpx2.Response) -> dict[str, str]:
    """Assert a 422 VALIDATION_ERROR; return ``details.fields``."""
    fields: dict[str, str] = invalid(response)["fields"]
    return fields


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def get(api: Api, actor: Actor, path: str, **params: Any) -> Any:
    """GET as ``actor``, insisting on 200; the decoded body."""
    response = await api.client.get(path, params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def put(api: Api, actor: Actor, path: str, body: dict[str, Any]) -> httpx2.Response:
    return await api.client.put(path, json=body, headers=actor.headers)


async def delete(api: Api, actor: Actor, path: str) -> httpx2.Response:
    return await api.client.delete(path, headers=actor.headers)


async def status_of(api: Api, actor: Actor, path: str) -> int:
    return (await api.client.get(path, headers=actor.headers)).status_code


async def owner_and_base(api: Api) -> tuple[Actor, dict[str, Any], dict[str, Any]]:
    """A fresh owner with a workspace and a base in it."""
    owner = await api.actor()
    workspace = await api.workspace(owner)
    return owner, workspace, await api.base(owner, workspace["id"])


async def add_field(
    api: Api, owner: Actor, table_id: str, name: str, kind: str, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = await api.post(
        owner, "/fields", {"table_id": table_id, "name": name, "type": kind, **extra}
    )
    return body


async def add_record(
    api: Api, owner: Actor, table_id: str, fields: dict[str, Any], *, typecast: bool = False
) -> dict[str, Any]:
    body: dict[str, Any] = await api.post(
        owner, "/records", {"table_id": table_id, "fields": fields, "typecast": typecast}
    )
    return body


async def try_record(
    api: Api, owner: Actor, table_id: str, fields: dict[str, Any], *, typecast: bool = False
) -> httpx2.Response:
    return await api.client.post(
        "/records",
        json={"table_id": table_id, "fields": fields, "typecast": typecast},
        headers=owner.headers,
    )


async def records(api: Api, actor: Actor, table_id: str, **params: Any) -> list[dict[str, Any]]:
    """The table's records (first page), as ``actor`` lists them."""
    body = await get(api, actor, "/records", table_id=table_id, **params)
    data: list[dict[str, Any]] = body["data"]
    return data


async def values_of(api: Api, actor: Actor, table_id: str, name: str) -> dict[str, Any]:
    """record id → the value of field ``name`` (absent when the cell is empty)."""
    return {
        r["id"]: r["fields"][name]
        for r in await records(api, actor, table_id)
        if name in r["fields"]
    }


async def field_of(api: Api, actor: Actor, field_id: str) -> dict[str, Any]:
    body: dict[str, Any] = await get(api, actor, f"/fields/{field_id}")
    return body


async def table_of(api: Api, actor: Actor, table_id: str) -> dict[str, Any]:
    body: dict[str, Any] = await get(api, actor, f"/tables/{table_id}")
    return body


async def retype(api: Api, owner: Actor, field_id: str, kind: str, **extra: Any) -> httpx2.Response:
    return await put(api, owner, f"/fields/{field_id}", {"type": kind, **extra})


# --- bases -----------------------------------------------------------------------------------


async def test_base_create_get_list_update_delete(api: Api) -> None:
    """A base goes through POST, GET, list, PUT and DELETE with the contract's `Base` shape."""
    owner = await api.actor()
    workspace = await api.workspace(owner)
    created = await api.post(
        owner,
        "/bases",
        {"workspace_id": workspace["id"], "name": "CRM", "description": "Customers"},
    )
    assert set(created) == BASE_KEYS
    assert created["id"].startswith("bas")
    assert created["workspace_id"] == workspace["id"]
    assert (created["name"], created["description"], created["table_count"]) == (
        "CRM",
        "Customers",
        0,
    )
    assert RFC3339_UTC.match(created["created_at"])
    assert RFC3339_UTC.match(created["updated_at"])
    assert await get(api, owner, f"/bases/{created['id']}") == created

    other = await api.base(owner, workspace["id"], name="Second")
    listed = await get(api, owner, "/bases", workspace_id=workspace["id"])
    assert [b["id"] for b in listed["data"]] == [created["id"], other["id"]]
    assert listed["pagination"]["total"] == 2

    renamed = await put(api, owner, f"/bases/{created['id']}", {"name": "Sales"})
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["description"]) == ("Sales", "Customers")
    described = await put(api, owner, f"/bases/{created['id']}", {"description": "All of them"})
    assert described.status_code == 200, described.text
    assert (described.json()["name"], described.json()["description"]) == ("Sales", "All of them")
    assert await get(api, owner, f"/bases/{created['id']}") == described.json()

    deleted = await delete(api, owner, f"/bases/{created['id']}")
    assert deleted.status_code == 204, deleted.text
    assert_error(
        await api.client.get(f"/bases/{created['id']}", headers=owner.headers), 404, "NOT_FOUND"
    )
    listed = await get(api, owner, "/bases", workspace_id=workspace["id"])
    assert [b["id"] for b in listed["data"]] == [other["id"]]


async def test_base_table_count_follows_its_tables(api: Api) -> None:
    """`table_count` counts the base's tables, in GET and in the list, after creates and deletes."""
    owner, workspace, base = await owner_and_base(api)
    first = await api.table(owner, base["id"])
    await api.table(owner, base["id"])
    assert (await get(api, owner, f"/bases/{base['id']}"))["table_count"] == 2
    listed = await get(api, owner, "/bases", workspace_id=workspace["id"])
    assert [b["table_count"] for b in listed["data"]] == [2]

    assert (await delete(api, owner, f"/tables/{first['id']}")).status_code == 204
    assert (await get(api, owner, f"/bases/{base['id']}"))["table_count"] == 1


async def test_workspace_base_count_counts_its_bases(api: Api) -> None:
    """GET /workspaces/{id} reports how many bases the workspace holds."""
    owner, workspace, base = await owner_and_base(api)
    await api.base(owner, workspace["id"], name="Second")
    assert (await get(api, owner, f"/workspaces/{workspace['id']}"))["base_count"] == 2
    listed = await get(api, owner, "/workspaces")
    assert [w["base_count"] for w in listed["data"]] == [2]

    assert (await delete(api, owner, f"/bases/{base['id']}")).status_code == 204
    assert (await get(api, owner, f"/workspaces/{workspace['id']}"))["base_count"] == 1


@pytest.mark.parametrize("key", ["name", "description"])
async def test_put_base_refuses_null(api: Api, key: str) -> None:
    """PUT /bases/{id} with an explicit null is 422 naming the key; the base is unchanged."""
    owner, _, base = await owner_and_base(api)
    assert key in bad_fields(await put(api, owner, f"/bases/{base['id']}", {key: None}))
    assert await get(api, owner, f"/bases/{base['id']}") == base


async def test_put_base_with_empty_body_changes_nothing_but_the_clock(api: Api) -> None:
    """A PUT that names no key keeps name and description."""
    owner, _, base = await owner_and_base(api)
    response = await put(api, owner, f"/bases/{base['id']}", {})
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["description"]) == (
        base["name"],
        base["description"],
    )


async def test_delete_base_takes_its_tables_fields_views_and_records(api: Api) -> None:
    """Deleting a base deletes everything below it: each of those ids answers 404 afterwards."""
    owner, workspace, base = await owner_and_base(api)
    kept = await api.base(owner, workspace["id"], name="Kept")
    kept_table = await api.table(owner, kept["id"])
    table = await api.table(owner, base["id"])
    field = await add_field(api, owner, table["id"], "Notes", "long_text")
    view = await api.post(owner, "/views", {"table_id": table["id"], "name": "All", "type": "grid"})
    record = await add_record(api, owner, table["id"], {"Name": "Ann", "Notes": "hi"})

    assert (await delete(api, owner, f"/bases/{base['id']}")).status_code == 204
    for path in (
        f"/bases/{base['id']}",
        f"/tables/{table['id']}",
        f"/fields/{field['id']}",
        f"/views/{view['id']}",
        f"/records/{record['id']}",
    ):
        assert_error(await api.client.get(path, headers=owner.headers), 404, "NOT_FOUND")
    listing = await api.client.get("/tables", params={"base_id": base["id"]}, headers=owner.headers)
    assert_error(listing, 404, "NOT_FOUND")
    listing = await api.client.get(
        "/records", params={"table_id": table["id"]}, headers=owner.headers
    )
    assert_error(listing, 404, "NOT_FOUND")
    assert (await table_of(api, owner, kept_table["id"]))["id"] == kept_table["id"]


# --- tables ----------------------------------------------------------------------------------


async def test_table_without_fields_gets_a_primary_text_field_name(api: Api) -> None:
    """POST /tables without `fields` creates one primary text field called `Name`."""
    owner, _, base = await owner_and_base(api)
    table = await api.post(
        owner, "/tables", {"base_id": base["id"], "name": "People", "description": "Everyone"}
    )
    assert set(table) == TABLE_KEYS
    assert table["id"].startswith("tbl")
    assert (table["base_id"], table["name"], table["description"]) == (
        base["id"],
        "People",
        "Everyone",
    )
    assert (table["record_count"], table["field_count"]) == (0, 1)
    (name,) = table["fields"]
    assert set(name) == FIELD_KEYS
    assert (name["name"], name["type"], name["is_primary"], name["required"]) == (
        "Name",
        "text",
        True,
        False,
    )
    assert (name["table_id"], name["order"], name["options"]) == (table["id"], 0, {})
    assert table["primary_field_id"] == name["id"]
    assert await table_of(api, owner, table["id"]) == table
    listed = await get(api, owner, "/tables", base_id=base["id"])
    assert listed["data"] == [table]


async def test_table_with_fields_makes_the_first_primary(api: Api) -> None:
    """Given fields are created in order; the first is the primary one."""
    owner, _, base = await owner_and_base(api)
    table = await api.table(
        owner,
        base["id"],
        [
            {"name": "Title", "type": "text", "required": True},
            {"name": "Score", "type": "number", "options": {"precision": 1}},
            {"name": "Done", "type": "checkbox"},
        ],
    )
    fields = table["fields"]
    assert [(f["name"], f["type"], f["order"], f["is_primary"]) for f in fields] == [
        ("Title", "text", 0, True),
        ("Score", "number", 1, False),
        ("Done", "checkbox", 2, False),
    ]
    assert [f["required"] for f in fields] == [True, False, False]
    assert fields[1]["options"] == {"precision": 1}
    assert table["primary_field_id"] == fields[0]["id"]
    assert table["field_count"] == 3


async def test_table_counts_its_records_and_fields(api: Api) -> None:
    """`record_count` and `field_count` follow record and field creates and deletes."""
    owner, _, base = await owner_and_base(api)
    table = await api.table(owner, base["id"])
    first = await add_record(api, owner, table["id"], {"Name": "a"})
    await add_record(api, owner, table["id"], {"Name": "b"})
    await api.post(
        owner, "/records/batch", {"table_id": table["id"], "records": [{"fields": {}}] * 3}
    )
    extra = await add_field(api, owner, table["id"], "Extra", "number")
    counted = await table_of(api, owner, table["id"])
    assert (counted["record_count"], counted["field_count"]) == (5, 2)

    assert (await delete(api, owner, f"/records/{first['id']}")).status_code == 204
    assert (await delete(api, owner, f"/fields/{extra['id']}")).status_code == 204
    counted = await table_of(api, owner, table["id"])
    assert (counted["record_count"], counted["field_count"]) == (4, 1)
    listed = await get(api, owner, "/tables", base_id=base["id"])
    assert [(t["record_count"], t["field_count"]) for t in listed["data"]] == [(4, 1)]


async def test_table_refuses_duplicate_field_names_ignoring_case(api: Api) -> None:
    """Two given fields whose names differ only in case: 422 naming `fields.N.name`, no table."""
    owner, _, base = await owner_and_base(api)
    response = await api.client.post(
        "/tables",
        json={
            "base_id": base["id"],
            "name": "Dupes",
            "fields": [
                {"name": "Title", "type": "text"},
                {"name": "Notes", "type": "long_text"},
                {"name": "NOTES", "type": "text"},
            ],
        },
        headers=owner.headers,
    )
    assert set(bad_fields(response)) == {"fields.2.name"}
    assert (await get(api, owner, "/tables", base_id=base["id"]))["data"] == []
    assert (await get(api, owner, f"/bases/{base['id']}"))["table_count"] == 0


async def test_table_refuses_bad_options_naming_the_field(api: Api) -> None:
    """A given field with bad options is 422 naming `fields.N.options`."""
    owner, _, base = await owner_and_base(api)
    response = await api.client.post(
        "/tables",
        json={
            "base_id": base["id"],
            "name": "Bad",
            "fields": [
                {"name": "A", "type": "text"},
                {"name": "B", "type": "number", "options": {"precision": 99}},
            ],
        },
        headers=owner.headers,
    )
    assert set(bad_fields(response)) == {"fields.1.options"}


async def test_put_table_changes_only_the_given_keys(api: Api) -> None:
    """PUT /tables/{id} renames and re-describes; keys left out keep their value."""
    owner, _, base = await owner_and_base(api)
    table = await api.table(owner, base["id"])
    response = await put(api, owner, f"/tables/{table['id']}", {"name": "Renamed"})
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["description"]) == ("Renamed", "")
    response = await put(api, owner, f"/tables/{table['id']}", {"description": "About"})
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["description"]) == ("Renamed", "About")
    assert (await table_of(api, owner, table["id"]))["description"] == "About"
    assert "name" in bad_fields(await put(api, owner, f"/tables/{table['id']}", {"name": None}))


async def test_put_table_moves_the_primary_field(api: Api) -> None:
    """PUT `primary_field_id` makes another field primary; `is_primary` follows."""
    owner, table = await api.new_table(
        [{"name": "A", "type": "text"}, {"name": "B", "type": "text"}]
    )
    a, b = table["fields"]
    response = await put(api, owner, f"/tables/{table['id']}", {"primary_field_id": b["id"]})
    assert response.status_code == 200, response.text
    assert response.json()["primary_field_id"] == b["id"]
    after = await table_of(api, owner, table["id"])
    assert after["primary_field_id"] == b["id"]
    assert [(f["name"], f["is_primary"]) for f in after["fields"]] == [("A", False), ("B", True)]
    assert (await field_of(api, owner, a["id"]))["is_primary"] is False


async def test_put_table_refuses_a_primary_field_of_another_table(api: Api) -> None:
    """`primary_field_id` must name a field of this table: anything else is 422, nothing moves."""
    owner, table = await api.new_table()
    other = await api.table(owner, table["base_id"])
    for wrong in (other["fields"][0]["id"], "fld" + "Z" * 16, "nonsense"):
        response = await put(api, owner, f"/tables/{table['id']}", {"primary_field_id": wrong})
        assert "primary_field_id" in bad_fields(response)
    assert await table_of(api, owner, table["id"]) == table


async def test_delete_table_takes_its_records_fields_and_views(api: Api) -> None:
    """DELETE /tables/{id} answers 204; the table and everything in it answer 404 afterwards."""
    owner, table = await api.new_table()
    record = await add_record(api, owner, table["id"], {"Name": "x"})
    view = await api.post(owner, "/views", {"table_id": table["id"], "name": "V", "type": "grid"})
    assert (await delete(api, owner, f"/tables/{table['id']}")).status_code == 204
    for path in (
        f"/tables/{table['id']}",
        f"/records/{record['id']}",
        f"/views/{view['id']}",
        f"/fields/{table['primary_field_id']}",
    ):
        assert_error(await api.client.get(path, headers=owner.headers), 404, "NOT_FOUND")
    assert (await get(api, owner, "/tables", base_id=table["base_id"]))["data"] == []
    assert_error(await delete(api, owner, f"/tables/{table['id']}"), 404, "NOT_FOUND")


# --- fields: create --------------------------------------------------------------------------


def valid_options(kind: str, other_table_id: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Options to create a field of ``kind`` with, and the normalised options it answers."""
    if kind == "number":
        return {"precision": 2}, {"precision": 2}
    if kind in ("select", "multiselect"):
        return (
            {"choices": ["Low", {"name": "High", "color": "red"}]},
            {"choices": [{"name": "Low", "color": "blue"}, {"name": "High", "color": "red"}]},
        )
    if kind == "reference":
        return {"referenced_table_id": other_table_id}, {"referenced_table_id": other_table_id}
    return None, {}


async def test_fields_of_every_type_are_created_with_normalised_options(api: Api) -> None:
    """POST /fields creates each of the 16 types; options come back normalised, in order."""
    owner, table = await api.new_table()
    other = await api.table(owner, table["base_id"])
    created = []
    for kind in FIELD_TYPES:
        options, expected = valid_options(kind, other["id"])
        body: dict[str, Any] = {"table_id": table["id"], "name": f"F {kind}", "type": kind}
        if options is not None:
            body["options"] = options
        field = await api.post(owner, "/fields", body)
        assert set(field) == FIELD_KEYS
        assert field["id"].startswith("fld")
        assert (field["name"], field["type"], field["options"]) == (f"F {kind}", kind, expected)
        assert (field["is_primary"], field["required"], field["table_id"]) == (
            False,
            False,
            table["id"],
        )
        assert await field_of(api, owner, field["id"]) == field
        created.append(field)

    listed = await get(api, owner, "/fields", table_id=table["id"], per_page=100)
    assert [f["id"] for f in listed["data"]] == [table["primary_field_id"]] + [
        f["id"] for f in created
    ]
    assert [f["order"] for f in listed["data"]] == list(range(len(FIELD_TYPES) + 1))
    assert listed["pagination"]["total"] == len(FIELD_TYPES) + 1
    assert (await table_of(api, owner, table["id"]))["field_count"] == len(FIELD_TYPES) + 1

    record = await add_record(api, owner, table["id"], {"Name": "computed"})
    assert record["fields"]["F autonumber"] == 1
    assert instant(record["fields"]["F created_time"]) == instant(record["created_at"])
    assert instant(record["fields"]["F last_modified_time"]) == instant(record["updated_at"])


#: case → (field type, options)
BAD_OPTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "unknown-key-on-text": ("text", {"precision": 1}),
    "unknown-key-on-number": ("number", {"precision": 1, "format": "currency"}),
    "precision-out-of-range": ("number", {"precision": 9}),
    "duplicate-choice": ("select", {"choices": ["A", "A"]}),
    "unknown-colour": ("multiselect", {"choices": [{"name": "A", "color": "mauve"}]}),
    "reference-without-table": ("reference", {}),
    "reference-to-no-table": ("reference", {"referenced_table_id": MISSING_TABLE_ID}),
    "reference-to-another-base": ("reference", {"referenced_table_id": "{other-base}"}),
}


@pytest.mark.parametrize("case", list(BAD_OPTIONS))
async def test_field_with_bad_options_is_refused(api: Api, case: str) -> None:
    """Bad options are 422 naming `options`; no field is added."""
    owner, workspace, base = await owner_and_base(api)
    table = await api.table(owner, base["id"])
    elsewhere = await api.table(owner, (await api.base(owner, workspace["id"], name="B2"))["id"])
    kind, options = BAD_OPTIONS[case]
    options = {
        key: elsewhere["id"] if value == "{other-base}" else value for key, value in options.items()
    }
    response = await api.client.post(
        "/fields",
        json={"table_id": table["id"], "name": "Bad", "type": kind, "options": options},
        headers=owner.headers,
    )
    assert set(bad_fields(response)) == {"options"}
    assert (await table_of(api, owner, table["id"]))["fields"] == table["fields"]


async def test_field_name_taken_ignoring_case_is_refused(api: Api) -> None:
    """A new field or a rename onto a taken name (any case) is 422 naming `name`."""
    owner, table = await api.new_table()
    response = await api.client.post(
        "/fields",
        json={"table_id": table["id"], "name": "NAME", "type": "number"},
        headers=owner.headers,
    )
    assert set(bad_fields(response)) == {"name"}
    notes = await add_field(api, owner, table["id"], "Notes", "text")
    assert set(bad_fields(await put(api, owner, f"/fields/{notes['id']}", {"name": "name"}))) == {
        "name"
    }
    assert (await field_of(api, owner, notes["id"]))["name"] == "Notes"
    # A field may change the case of its own name.
    renamed = await put(api, owner, f"/fields/{notes['id']}", {"name": "NOTES"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "NOTES"


async def test_unknown_field_type_is_refused(api: Api) -> None:
    """A type outside the 16 is 422 naming `type`."""
    owner, table = await api.new_table()
    response = await api.client.post(
        "/fields",
        json={"table_id": table["id"], "name": "Formula", "type": "formula"},
        headers=owner.headers,
    )
    assert "type" in bad_fields(response)


# --- fields: rename --------------------------------------------------------------------------


async def test_rename_carries_values_queries_and_views_along(api: Api) -> None:
    """After a rename, records answer under the new name; filters, sorts and views use it."""
    owner, table = await api.new_table()
    score = await add_field(api, owner, table["id"], "Score", "number")
    low = await add_record(api, owner, table["id"], {"Name": "low", "Score": 1})
    high = await add_record(api, owner, table["id"], {"Name": "high", "Score": 9})
    view = await api.post(
        owner,
        "/views",
        {
            "table_id": table["id"],
            "name": "Top",
            "type": "grid",
            "configuration": {
                "sorts": [{"field": "Score", "direction": "desc"}],
                "filters": {
                    "conjunction": "and",
                    "conditions": [{"field": "Score", "operator": "greater_than", "value": 0}],
                },
            },
        },
    )

    renamed = await put(api, owner, f"/fields/{score['id']}", {"name": "Points"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Points"

    read = await get(api, owner, f"/records/{low['id']}")
    assert read["fields"] == {"Name": "low", "Points": 1}
    assert read["version"] == low["version"]

    filtered = await records(
        api,
        owner,
        table["id"],
        filter='{"conditions": [{"field": "Points", "operator": "greater_than", "value": 5}]}',
    )
    assert [r["id"] for r in filtered] == [high["id"]]
    ordered = await records(
        api, owner, table["id"], sort='[{"field": "Points", "direction": "desc"}]'
    )
    assert [r["id"] for r in ordered] == [high["id"], low["id"]]
    projected = await records(api, owner, table["id"], fields="Points")
    assert [r["fields"] for r in projected] == [{"Points": 1}, {"Points": 9}]
    through_view = await records(api, owner, table["id"], view_id=view["id"])
    assert [r["id"] for r in through_view] == [high["id"], low["id"]]
    assert (await get(api, owner, f"/views/{view['id']}"))["configuration"] == view["configuration"]

    old_name = await api.client.get(
        "/records",
        params={
            "table_id": table["id"],
            "filter": '{"conditions": [{"field": "Score", "operator": "equals", "value": 1}]}',
        },
        headers=owner.headers,
    )
    assert "filter" in bad_fields(old_name)
    stale_write = await api.client.patch(
        f"/records/{low['id']}", json={"fields": {"Score": 2}}, headers=owner.headers
    )
    assert "Score" in bad_fields(stale_write)
    fresh_write = await api.client.patch(
        f"/records/{low['id']}", json={"fields": {"Points": 2}}, headers=owner.headers
    )
    assert fresh_write.status_code == 200, fresh_write.text
    assert fresh_write.json()["fields"]["Points"] == 2


# --- fields: type changes --------------------------------------------------------------------


async def table_with(
    api: Api, kind: str, values: list[Any], options: dict[str, Any] | None = None
) -> tuple[Actor, dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """A table with a field ``Value`` of ``kind`` and one record per value (None: left empty)."""
    spec: dict[str, Any] = {"name": "Value", "type": kind}
    if options is not None:
        spec["options"] = options
    owner, table = await api.new_table([{"name": "Name", "type": "text"}, spec])
    made = []
    for index, value in enumerate(values):
        fields: dict[str, Any] = {"Name": f"r{index}"}
        if value is not None:
            fields["Value"] = value
        made.append(await add_record(api, owner, table["id"], fields))
    return owner, table, table["fields"][1], made


async def values_by_record(
    api: Api, owner: Actor, table_id: str, made: list[dict[str, Any]]
) -> list[Any]:
    """The value of ``Value`` of each record, in creation order (None for an empty cell)."""
    current = await values_of(api, owner, table_id, "Value")
    return [current.get(r["id"]) for r in made]


#: case → (from type, its options, values, to type, its options, the converted values)
CONVERSIONS: dict[
    str, tuple[str, dict[str, Any] | None, list[Any], str, dict[str, Any] | None, list[Any]]
] = {
    "number-to-text": ("number", None, [1, 2.5, -3, None], "text", None, ["1", "2.5", "-3", None]),
    "text-to-number": (
        "text",
        None,
        ["1", "2.5", " 3 ", None],
        "number",
        None,
        [1, 2.5, 3, None],
    ),
    "select-to-multiselect": (
        "select",
        {"choices": ["A", "B"]},
        ["A", "B", None],
        "multiselect",
        None,
        [["A"], ["B"], None],
    ),
    "multiselect-of-one-to-select": (
        "multiselect",
        {"choices": ["A", "B"]},
        [["A"], ["B"], None],
        "select",
        None,
        ["A", "B", None],
    ),
    "checkbox-to-number": ("checkbox", None, [True, False, None], "number", None, [1, 0, None]),
    "number-to-checkbox": (
        "number",
        None,
        [0, 5, -1.5, None],
        "checkbox",
        None,
        [False, True, True, None],
    ),
    "date-to-datetime": (
        "date",
        None,
        ["2024-03-05", None],
        "datetime",
        None,
        ["2024-03-05T00:00:00.000Z", None],
    ),
    "datetime-to-date": (
        "datetime",
        None,
        ["2024-03-05T23:30:00-02:00", None],
        "date",
        None,
        ["2024-03-06", None],
    ),
    "number-precision-rounds": (
        "number",
        {"precision": 3},
        [1.2345, 2],
        "number",
        {"precision": 1},
        [1.2, 2],
    ),
    "text-to-email": ("text", None, ["Ann@Example.COM"], "email", None, ["Ann@example.com"]),
}


@pytest.mark.parametrize("case", list(CONVERSIONS))
async def test_type_change_converts_every_value(api: Api, case: str) -> None:
    """PUT /fields/{id} with a new type converts every stored value to the new type."""
    from_kind, from_options, before, to_kind, to_options, after = CONVERSIONS[case]
    owner, table, field, made = await table_with(api, from_kind, before, from_options)
    body: dict[str, Any] = {"type": to_kind}
    if to_options is not None:
        body["options"] = to_options
    response = await put(api, owner, f"/fields/{field['id']}", body)
    assert response.status_code == 200, response.text
    assert response.json()["type"] == to_kind
    assert (await field_of(api, owner, field["id"]))["type"] == to_kind
    assert await values_by_record(api, owner, table["id"], made) == after


async def test_failed_type_change_names_the_records_and_changes_nothing(api: Api) -> None:
    """text → number with one "abc": 422 listing exactly that record; type and values unchanged."""
    owner, table, field, made = await table_with(api, "text", ["1", "abc", "2.5", None])
    response = await retype(api, owner, field["id"], "number")
    details = invalid(response)
    assert [entry["id"] for entry in details["records"]] == [made[1]["id"]]
    assert all(isinstance(entry["reason"], str) and entry["reason"] for entry in details["records"])
    assert (await field_of(api, owner, field["id"])) == field
    assert await values_by_record(api, owner, table["id"], made) == ["1", "abc", "2.5", None]
    versions = {r["id"]: r["version"] for r in await records(api, owner, table["id"])}
    assert versions == {r["id"]: 1 for r in made}


async def test_failed_type_change_with_a_rename_renames_nothing(api: Api) -> None:
    """A rename that comes with a failing type change is undone with it."""
    owner, table, field, made = await table_with(api, "text", ["abc"])
    response = await put(api, owner, f"/fields/{field['id']}", {"name": "Amount", "type": "number"})
    assert [entry["id"] for entry in invalid(response)["records"]] == [made[0]["id"]]
    assert (await field_of(api, owner, field["id"]))["name"] == "Value"
    assert await values_by_record(api, owner, table["id"], made) == ["abc"]


async def test_multiselect_with_two_choices_cannot_become_select(api: Api) -> None:
    """multiselect → select fails when a record holds two choices, naming only that record."""
    owner, table, field, made = await table_with(
        api, "multiselect", [["A"], ["A", "B"], None], {"choices": ["A", "B"]}
    )
    details = invalid(await retype(api, owner, field["id"], "select"))
    assert [entry["id"] for entry in details["records"]] == [made[1]["id"]]
    assert (await field_of(api, owner, field["id"])) == field
    assert await values_by_record(api, owner, table["id"], made) == [["A"], ["A", "B"], None]


async def test_select_to_multiselect_keeps_its_choices(api: Api) -> None:
    """select → multiselect (and back) keeps every choice with its colour, used or not."""
    choices = [{"name": "A", "color": "red"}, {"name": "B", "color": "green"}, "Unused"]
    owner, table, field, made = await table_with(api, "select", ["A", None], {"choices": choices})
    response = await retype(api, owner, field["id"], "multiselect")
    assert response.status_code == 200, response.text
    assert response.json()["options"] == field["options"]
    assert await values_by_record(api, owner, table["id"], made) == [["A"], None]
    back = await retype(api, owner, field["id"], "select")
    assert back.status_code == 200, back.text
    assert back.json()["options"] == field["options"]
    assert await values_by_record(api, owner, table["id"], made) == ["A", None]


async def test_text_to_select_adds_a_choice_per_distinct_value(api: Api) -> None:
    """text → select turns each distinct value into a choice, in order of the records."""
    owner, table, field, made = await table_with(api, "text", ["Red", "Blue", "Red", None])
    response = await retype(api, owner, field["id"], "select")
    assert response.status_code == 200, response.text
    choices = response.json()["options"]["choices"]
    assert [choice["name"] for choice in choices] == ["Red", "Blue"]
    assert (await field_of(api, owner, field["id"]))["options"]["choices"] == choices
    assert await values_by_record(api, owner, table["id"], made) == ["Red", "Blue", "Red", None]


@pytest.mark.parametrize(
    ("kind", "value"),
    [("text", "hello"), ("number", 7), ("checkbox", True), ("date", "2024-01-01")],
)
async def test_any_type_to_created_time_derives_the_values(api: Api, kind: str, value: Any) -> None:
    """Into created_time, stored values go away and each record reads its creation time."""
    owner, table, field, made = await table_with(api, kind, [value, None])
    response = await retype(api, owner, field["id"], "created_time")
    assert response.status_code == 200, response.text
    assert response.json()["options"] == {}
    current = await values_by_record(api, owner, table["id"], made)
    assert [instant(v) for v in current] == [instant(r["created_at"]) for r in made]
    # Read-only from now on.
    write = await api.client.patch(
        f"/records/{made[0]['id']}", json={"fields": {"Value": value}}, headers=owner.headers
    )
    assert "Value" in bad_fields(write)


async def test_autonumber_to_number_keeps_the_numbers_as_plain_values(api: Api) -> None:
    """autonumber → number stores each record's number; the values become writable."""
    owner, table = await api.new_table(
        [{"name": "Name", "type": "text"}, {"name": "No", "type": "autonumber"}]
    )
    made = [await add_record(api, owner, table["id"], {"Name": f"r{n}"}) for n in range(3)]
    assert [r["fields"]["No"] for r in made] == [1, 2, 3]
    number = table["fields"][1]
    response = await retype(api, owner, number["id"], "number")
    assert response.status_code == 200, response.text
    assert await values_of(api, owner, table["id"], "No") == {
        r["id"]: n for n, r in enumerate(made, start=1)
    }
    later = await add_record(api, owner, table["id"], {"Name": "later"})
    assert "No" not in later["fields"]
    patched = await api.client.patch(
        f"/records/{made[0]['id']}", json={"fields": {"No": 10}}, headers=owner.headers
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["fields"]["No"] == 10


async def test_removing_a_used_select_choice_is_refused(api: Api) -> None:
    """Options without a choice that a record uses: 422 naming the record; an unused one goes."""
    owner, table, field, made = await table_with(
        api, "select", ["A", "B", None], {"choices": ["A", "B", "C"]}
    )
    details = invalid(
        await put(api, owner, f"/fields/{field['id']}", {"options": {"choices": ["A", "C"]}})
    )
    assert [entry["id"] for entry in details["records"]] == [made[1]["id"]]
    assert (await field_of(api, owner, field["id"]))["options"] == field["options"]
    assert await values_by_record(api, owner, table["id"], made) == ["A", "B", None]

    response = await put(api, owner, f"/fields/{field['id']}", {"options": {"choices": ["A", "B"]}})
    assert response.status_code == 200, response.text
    assert [c["name"] for c in response.json()["options"]["choices"]] == ["A", "B"]


# --- fields: delete --------------------------------------------------------------------------


async def test_deleting_a_field_removes_its_values_and_its_view_mentions(api: Api) -> None:
    """DELETE /fields/{id}: records no longer show it; views forget it everywhere."""
    owner, table = await api.new_table()
    gone = await add_field(api, owner, table["id"], "Gone", "number")
    kept = await add_field(api, owner, table["id"], "Kept", "text")
    record = await add_record(api, owner, table["id"], {"Name": "a", "Gone": 1, "Kept": "k"})
    view = await api.post(
        owner,
        "/views",
        {
            "table_id": table["id"],
            "name": "Busy",
            "type": "grid",
            "configuration": {
                "visible_fields": ["Name", "Gone", "Kept"],
                "field_order": ["Gone", "Kept", "Name"],
                "sorts": [{"field": "Gone"}, {"field": "Kept", "direction": "desc"}],
                "filters": {
                    "conjunction": "or",
                    "conditions": [
                        {"field": "Gone", "operator": "equals", "value": 1},
                        {"field": "Kept", "operator": "is_not_empty"},
                        {
                            "conjunction": "and",
                            "conditions": [
                                {"field": "Gone", "operator": "is_empty"},
                                {"field": "Name", "operator": "contains", "value": "a"},
                            ],
                        },
                    ],
                },
            },
        },
    )
    assert (await delete(api, owner, f"/fields/{gone['id']}")).status_code == 204

    assert_error(
        await api.client.get(f"/fields/{gone['id']}", headers=owner.headers), 404, "NOT_FOUND"
    )
    assert (await get(api, owner, f"/records/{record['id']}"))["fields"] == {
        "Name": "a",
        "Kept": "k",
    }
    name_id = table["primary_field_id"]
    configuration = (await get(api, owner, f"/views/{view['id']}"))["configuration"]
    assert configuration == {
        "visible_fields": [name_id, kept["id"]],
        "field_order": [kept["id"], name_id],
        "sorts": [{"field": kept["id"], "direction": "desc"}],
        "filters": {
            "conjunction": "or",
            "conditions": [
                {"field": kept["id"], "operator": "is_not_empty", "value": None},
                {
                    "conjunction": "and",
                    "conditions": [
                        {"field": name_id, "operator": "contains", "value": "a"},
                    ],
                },
            ],
        },
    }
    assert [r["id"] for r in await records(api, owner, table["id"], view_id=view["id"])] == [
        record["id"]
    ]
    asked = await api.client.get(
        "/records", params={"table_id": table["id"], "fields": "Gone"}, headers=owner.headers
    )
    assert "fields" in bad_fields(asked)
    # The name is free again, and a new field of that name starts empty.
    await add_field(api, owner, table["id"], "Gone", "text")
    assert "Gone" not in (await get(api, owner, f"/records/{record['id']}"))["fields"]


async def test_primary_field_cannot_be_deleted_until_another_is_primary(api: Api) -> None:
    """DELETE of the primary field is 422; after PUT /tables moves the primary it is 204."""
    owner, table = await api.new_table()
    other = await add_field(api, owner, table["id"], "Other", "text")
    primary_id = table["primary_field_id"]
    assert "field_id" in bad_fields(await delete(api, owner, f"/fields/{primary_id}"))
    assert (await field_of(api, owner, primary_id))["is_primary"] is True

    moved = await put(api, owner, f"/tables/{table['id']}", {"primary_field_id": other["id"]})
    assert moved.status_code == 200, moved.text
    assert (await delete(api, owner, f"/fields/{primary_id}")).status_code == 204
    after = await table_of(api, owner, table["id"])
    assert after["primary_field_id"] == other["id"]
    assert [(f["name"], f["is_primary"]) for f in after["fields"]] == [("Other", True)]


# --- fields: computed and required -----------------------------------------------------------


@pytest.mark.parametrize("kind", COMPUTED)
async def test_computed_fields_refuse_writes(api: Api, kind: str) -> None:
    """Writing a computed field is 422 naming it, on create, PATCH, PUT and batches."""
    owner, table = await api.new_table(
        [{"name": "Name", "type": "text"}, {"name": "Auto", "type": kind}]
    )
    value = 5 if kind == "autonumber" else "2024-01-01T00:00:00.000Z"
    assert "Auto" in bad_fields(await try_record(api, owner, table["id"], {"Auto": value}))
    record = await add_record(api, owner, table["id"], {"Name": "x"})
    for method in ("PATCH", "PUT"):
        response = await api.client.request(
            method,
            f"/records/{record['id']}",
            json={"fields": {"Auto": value}},
            headers=owner.headers,
        )
        assert "Auto" in bad_fields(response)
    batch = await api.client.post(
        "/records/batch",
        json={"table_id": table["id"], "records": [{"fields": {"Auto": value}}]},
        headers=owner.headers,
    )
    assert "records.0.Auto" in bad_fields(batch)
    assert (await get(api, owner, f"/records/{record['id']}")) == record


@pytest.mark.parametrize("kind", COMPUTED)
async def test_computed_fields_cannot_be_required(api: Api, kind: str) -> None:
    """`required` on a computed field is 422: PUT /fields, POST /fields and POST /tables."""
    owner, table = await api.new_table(
        [{"name": "Name", "type": "text"}, {"name": "Auto", "type": kind}]
    )
    auto = table["fields"][1]
    assert "required" in bad_fields(
        await put(api, owner, f"/fields/{auto['id']}", {"required": True})
    )
    assert (await field_of(api, owner, auto["id"]))["required"] is False
    response = await api.client.post(
        "/fields",
        json={"table_id": table["id"], "name": "Auto 2", "type": kind, "required": True},
        headers=owner.headers,
    )
    assert "required" in bad_fields(response)
    assert (await table_of(api, owner, table["id"]))["field_count"] == 2
    in_table = await api.client.post(
        "/tables",
        json={
            "base_id": table["base_id"],
            "name": "With computed",
            "fields": [
                {"name": "Name", "type": "text"},
                {"name": "A", "type": kind, "required": True},
            ],
        },
        headers=owner.headers,
    )
    assert set(bad_fields(in_table)) == {"fields.1.required"}


@pytest.mark.parametrize("kind", COMPUTED)
async def test_required_field_becomes_computed_only_when_no_longer_required(
    api: Api, kind: str
) -> None:
    """Retyping a required field to a computed type is 422 unless `required: false` comes along."""
    owner, table = await api.new_table(
        [{"name": "Name", "type": "text"}, {"name": "Code", "type": "text", "required": True}]
    )
    code = table["fields"][1]
    record = await add_record(api, owner, table["id"], {"Name": "a", "Code": "x"})
    assert "required" in bad_fields(await retype(api, owner, code["id"], kind))
    assert await field_of(api, owner, code["id"]) == code
    assert await values_of(api, owner, table["id"], "Code") == {record["id"]: "x"}
    response = await retype(api, owner, code["id"], kind, required=False)
    assert response.status_code == 200, response.text
    assert (response.json()["type"], response.json()["required"]) == (kind, False)


async def test_required_fields_must_be_given(api: Api) -> None:
    """A record missing a required field is 422 naming it; clearing it later is refused too."""
    owner, table = await api.new_table(
        [{"name": "Title", "type": "text", "required": True}, {"name": "Notes", "type": "text"}]
    )
    missing = await try_record(api, owner, table["id"], {"Notes": "n"})
    assert bad_fields(missing) == {"Title": "is required"}
    empty = await try_record(api, owner, table["id"], {"Title": ""})
    assert "Title" in bad_fields(empty)
    record = await add_record(api, owner, table["id"], {"Title": "t"})
    cleared = await api.client.patch(
        f"/records/{record['id']}", json={"fields": {"Title": None}}, headers=owner.headers
    )
    assert "Title" in bad_fields(cleared)
    replaced = await api.client.put(
        f"/records/{record['id']}", json={"fields": {"Notes": "n"}}, headers=owner.headers
    )
    assert "Title" in bad_fields(replaced)
    assert (await get(api, owner, f"/records/{record['id']}"))["fields"] == {"Title": "t"}
    assert (await table_of(api, owner, table["id"]))["record_count"] == 1


async def test_field_can_be_made_required_later(api: Api) -> None:
    """PUT /fields/{id} {required: true} makes later writes need the field."""
    owner, table = await api.new_table()
    made = await put(api, owner, f"/fields/{table['primary_field_id']}", {"required": True})
    assert made.status_code == 200, made.text
    assert made.json()["required"] is True
    assert "Name" in bad_fields(await try_record(api, owner, table["id"], {}))


# --- values through POST /records ------------------------------------------------------------

#: type → (options, a valid value, how it reads back, an invalid value)
VALUES: dict[str, tuple[dict[str, Any] | None, Any, Any, Any]] = {
    "text": (None, "hello", "hello", "two\nlines"),
    "long_text": (None, "two\nlines", "two\nlines", 5),
    "number": ({"precision": 2}, 3.14159, 3.14, "42"),
    "checkbox": (None, True, True, "yes"),
    "date": (None, "2024-02-29", "2024-02-29", "2023-02-29"),
    "datetime": (
        None,
        "2024-03-05T10:15:30+02:00",
        "2024-03-05T08:15:30.000Z",
        "2024-03-05T10:15:30",
    ),
    "select": ({"choices": ["A", "B"]}, "B", "B", "C"),
    "multiselect": ({"choices": ["A", "B"]}, ["B", "A", "B"], ["B", "A"], "A"),
    "email": (None, "Ann@Example.COM", "Ann@example.com", "not-an-email"),
    "url": (None, "https://example.com/a?b=1", "https://example.com/a?b=1", "ftp://example.com"),
    "phone": (None, "+1 (555) 010-0199", "+1 (555) 010-0199", "call me"),
    # What the client says of a file is replaced by what the server knows of it.
    "attachment": (
        None,
        [{"filename": "claimed.exe", "id": "{file}", "size": 99}],
        "{file-attachment}",
        [{"filename": "a.txt"}],
    ),
    "reference": (
        {"referenced_table_id": "{linked}"},
        ["{linked-record}"],
        ["{linked-record}"],
        ["x"],
    ),
}


@pytest.mark.parametrize("kind", list(VALUES))
async def test_valid_value_is_stored_and_read_back_normalised(api: Api, kind: str) -> None:
    """A valid value of each type is stored; the record reads back the normalised form."""
    owner, table = await api.new_table()
    linked = await api.table(owner, table["base_id"])
    target = await add_record(api, owner, linked["id"], {"Name": "target"})
    uploaded = await api.client.post(
        "/files/upload",
        data={"table_id": table["id"]},
        files={"file": ("a.txt", b"abc", "text/plain")},
        headers=owner.headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    file = uploaded.json()["file"]
    options, value, stored, _ = VALUES[kind]

    def fill(item: Any) -> Any:
        if item == "{linked}":
            return linked["id"]
        if item == "{linked-record}":
            return target["id"]
        if item == "{file}":
            return file["id"]
        if item == "{file-attachment}":
            return [{key: file[key] for key in ("id", "filename", "size", "type", "url")}]
        if isinstance(item, list):
            return [fill(part) for part in item]
        if isinstance(item, dict):
            return {key: fill(part) for key, part in item.items()}
        return item

    await add_field(api, owner, table["id"], "V", kind, options=fill(options))
    created = await add_record(api, owner, table["id"], {"V": fill(value)})
    assert created["fields"]["V"] == fill(stored)
    assert (await get(api, owner, f"/records/{created['id']}"))["fields"]["V"] == fill(stored)


@pytest.mark.parametrize("kind", list(VALUES))
async def test_invalid_value_is_refused_naming_the_field(api: Api, kind: str) -> None:
    """An invalid value of each type is 422 with `details.fields` naming the field; no record."""
    owner, table = await api.new_table()
    linked = await api.table(owner, table["base_id"])
    options, _, _, wrong = VALUES[kind]
    if options is not None and options.get("referenced_table_id") == "{linked}":
        options = {"referenced_table_id": linked["id"]}
    await add_field(api, owner, table["id"], "V", kind, options=options)
    response = await try_record(api, owner, table["id"], {"Name": "x", "V": wrong})
    assert set(bad_fields(response)) == {"V"}
    assert await records(api, owner, table["id"]) == []
    assert (await table_of(api, owner, table["id"]))["record_count"] == 0


async def test_link_to_a_record_that_does_not_exist_is_refused(api: Api) -> None:
    """A well-formed record id that is not a record of the linked table is 422 naming the field."""
    owner, table = await api.new_table()
    linked = await api.table(owner, table["base_id"])
    elsewhere = await add_record(api, owner, table["id"], {"Name": "same table, not linked"})
    await add_field(
        api, owner, table["id"], "Link", "reference", options={"referenced_table_id": linked["id"]}
    )
    for wrong in (MISSING_RECORD_ID, elsewhere["id"]):
        response = await try_record(api, owner, table["id"], {"Link": [wrong]})
        assert set(bad_fields(response)) == {"Link"}


async def test_unknown_field_name_is_refused(api: Api) -> None:
    """A record write naming no field of the table is 422 naming it."""
    owner, table = await api.new_table()
    assert set(bad_fields(await try_record(api, owner, table["id"], {"Nope": 1}))) == {"Nope"}


async def test_fields_may_be_named_by_id_on_write(api: Api) -> None:
    """A record write may key values by field id; the answer keys them by name."""
    owner, table = await api.new_table()
    record = await add_record(api, owner, table["id"], {table["primary_field_id"]: "by id"})
    assert record["fields"] == {"Name": "by id"}


TYPECASTS: dict[str, tuple[dict[str, Any] | None, Any, Any]] = {
    "number-from-string": ({"precision": 0}, "42", 42),
    "number-from-decimal-string": (None, " 2.5 ", 2.5),
    "checkbox-from-yes": (None, "yes", True),
    "checkbox-from-zero": (None, "0", False),
    "text-from-number": (None, 12, "12"),
    "date-from-slashes": (None, "2024/3/5", "2024-03-05"),
    "datetime-from-naive": (None, "2024-03-05T10:00:00", "2024-03-05T10:00:00.000Z"),
    "multiselect-from-csv": ({"choices": ["a", "b"]}, "a, b", ["a", "b"]),
}
TYPECAST_KINDS = {
    "number-from-string": "number",
    "number-from-decimal-string": "number",
    "checkbox-from-yes": "checkbox",
    "checkbox-from-zero": "checkbox",
    "text-from-number": "text",
    "date-from-slashes": "date",
    "datetime-from-naive": "datetime",
    "multiselect-from-csv": "multiselect",
}


@pytest.mark.parametrize("case", list(TYPECASTS))
async def test_typecast_reads_loose_values(api: Api, case: str) -> None:
    """With `typecast`, loose values convert; without it the same value is refused."""
    owner, table = await api.new_table()
    options, value, stored = TYPECASTS[case]
    await add_field(api, owner, table["id"], "V", TYPECAST_KINDS[case], options=options)
    assert set(bad_fields(await try_record(api, owner, table["id"], {"V": value}))) == {"V"}
    created = await add_record(api, owner, table["id"], {"V": value}, typecast=True)
    assert created["fields"]["V"] == stored


async def test_typecast_adds_a_select_choice_to_the_field(api: Api) -> None:
    """Typecast to a select adds the missing choice; the field's options show it afterwards."""
    owner, table = await api.new_table()
    status = await add_field(
        api, owner, table["id"], "Status", "select", options={"choices": ["Open"]}
    )
    refused = await try_record(api, owner, table["id"], {"Status": "Closed"})
    assert set(bad_fields(refused)) == {"Status"}
    created = await add_record(api, owner, table["id"], {"Status": "Closed"}, typecast=True)
    assert created["fields"]["Status"] == "Closed"
    choices = (await field_of(api, owner, status["id"]))["options"]["choices"]
    assert [c["name"] for c in choices] == ["Open", "Closed"]
    # Now a real choice: no typecast needed.
    await add_record(api, owner, table["id"], {"Status": "Closed"})


async def test_empty_values_leave_the_cell_empty(api: Api) -> None:
    """null, "" and [] store nothing: the record reads without the field."""
    owner, table = await api.new_table(
        [{"name": "Name", "type": "text"}, {"name": "Tags", "type": "multiselect"}]
    )
    record = await add_record(api, owner, table["id"], {"Name": "", "Tags": []})
    assert record["fields"] == {}


# --- views -----------------------------------------------------------------------------------


async def test_view_create_get_list_update_delete(api: Api) -> None:
    """A view goes through POST, GET, list, PUT and DELETE; configuration is kept by field id."""
    owner, table = await api.new_table()
    score = await add_field(api, owner, table["id"], "Score", "number")
    name_id = table["primary_field_id"]
    created = await api.post(
        owner,
        "/views",
        {
            "table_id": table["id"],
            "name": "Board",
            "type": "kanban",
            "configuration": {
                "visible_fields": ["Score", name_id],
                "field_order": [score["id"], "Name"],
                "sorts": [{"field": "Score", "direction": "desc"}],
                "filters": {
                    "conjunction": "and",
                    "conditions": [{"field": "Name", "operator": "starts_with", "value": "a"}],
                },
            },
        },
    )
    assert set(created) == VIEW_KEYS
    assert created["id"].startswith("viw")
    assert (created["table_id"], created["name"], created["type"], created["order"]) == (
        table["id"],
        "Board",
        "kanban",
        0,
    )
    assert created["configuration"] == {
        "visible_fields": [score["id"], name_id],
        "field_order": [score["id"], name_id],
        "sorts": [{"field": score["id"], "direction": "desc"}],
        "filters": {
            "conjunction": "and",
            "conditions": [{"field": name_id, "operator": "starts_with", "value": "a"}],
        },
    }
    assert await get(api, owner, f"/views/{created['id']}") == created

    plain = await api.post(owner, "/views", {"table_id": table["id"], "name": "Plain"})
    assert (plain["type"], plain["order"], plain["configuration"]) == ("grid", 1, {})
    listed = await get(api, owner, "/views", table_id=table["id"])
    assert [v["id"] for v in listed["data"]] == [created["id"], plain["id"]]
    assert listed["pagination"]["total"] == 2

    renamed = await put(api, owner, f"/views/{created['id']}", {"name": "Cards", "type": "gallery"})
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["type"]) == ("Cards", "gallery")
    assert renamed.json()["configuration"] == created["configuration"]
    reconfigured = await put(
        api, owner, f"/views/{created['id']}", {"configuration": {"visible_fields": ["Name"]}}
    )
    assert reconfigured.status_code == 200, reconfigured.text
    assert reconfigured.json()["configuration"] == {"visible_fields": [name_id]}
    assert reconfigured.json()["name"] == "Cards"
    assert await get(api, owner, f"/views/{created['id']}") == reconfigured.json()

    assert (await delete(api, owner, f"/views/{created['id']}")).status_code == 204
    assert_error(
        await api.client.get(f"/views/{created['id']}", headers=owner.headers), 404, "NOT_FOUND"
    )
    listed = await get(api, owner, "/views", table_id=table["id"])
    assert [v["id"] for v in listed["data"]] == [plain["id"]]


async def test_view_shapes_records_it_lists(api: Api) -> None:
    """Records listed through a view follow its filters, sorts and visible fields."""
    owner, table = await api.new_table()
    await add_field(api, owner, table["id"], "Score", "number")
    a = await add_record(api, owner, table["id"], {"Name": "a", "Score": 1})
    await add_record(api, owner, table["id"], {"Name": "b", "Score": 2})
    c = await add_record(api, owner, table["id"], {"Name": "c", "Score": 3})
    view = await api.post(
        owner,
        "/views",
        {
            "table_id": table["id"],
            "name": "Odd",
            "configuration": {
                "visible_fields": ["Score"],
                "sorts": [{"field": "Score", "direction": "desc"}],
                "filters": {
                    "conjunction": "or",
                    "conditions": [
                        {"field": "Score", "operator": "equals", "value": 1},
                        {"field": "Name", "operator": "equals", "value": "C"},
                    ],
                },
            },
        },
    )
    listed = await records(api, owner, table["id"], view_id=view["id"])
    assert [(r["id"], r["fields"]) for r in listed] == [
        (c["id"], {"Score": 3}),
        (a["id"], {"Score": 1}),
    ]


async def test_view_survives_a_field_rename(api: Api) -> None:
    """A view's configuration names fields by id, so renaming a field leaves it working."""
    owner, table = await api.new_table()
    score = await add_field(api, owner, table["id"], "Score", "number")
    await add_record(api, owner, table["id"], {"Name": "low", "Score": 1})
    high = await add_record(api, owner, table["id"], {"Name": "high", "Score": 5})
    view = await api.post(
        owner,
        "/views",
        {
            "table_id": table["id"],
            "name": "High",
            "configuration": {
                "visible_fields": ["Score"],
                "filters": {
                    "conditions": [{"field": "Score", "operator": "greater_equal", "value": 5}]
                },
            },
        },
    )
    assert (await put(api, owner, f"/fields/{score['id']}", {"name": "Points"})).status_code == 200
    assert await get(api, owner, f"/views/{view['id']}") == view
    listed = await records(api, owner, table["id"], view_id=view["id"])
    assert [(r["id"], r["fields"]) for r in listed] == [(high["id"], {"Points": 5})]
    # The old name no longer resolves in a new configuration; the new one does.
    stale = await put(
        api, owner, f"/views/{view['id']}", {"configuration": {"visible_fields": ["Score"]}}
    )
    assert "configuration.visible_fields" in bad_fields(stale)
    fresh = await put(
        api, owner, f"/views/{view['id']}", {"configuration": {"visible_fields": ["Points"]}}
    )
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["configuration"] == {"visible_fields": [score["id"]]}


UNKNOWN_FIELD_CONFIGS = {
    "visible_fields": {"visible_fields": ["Name", "Nope"]},
    "field_order": {"field_order": ["fld" + "Z" * 16]},
    "sorts": {"sorts": [{"field": "Nope"}]},
    "filters": {"filters": {"conditions": [{"field": "Nope", "operator": "is_empty"}]}},
}


@pytest.mark.parametrize("key", list(UNKNOWN_FIELD_CONFIGS))
async def test_view_naming_an_unknown_field_is_refused(api: Api, key: str) -> None:
    """A configuration naming a field the table lacks is 422 naming where; nothing is saved."""
    owner, table = await api.new_table()
    other = await api.table(owner, table["base_id"])
    response = await api.client.post(
        "/views",
        json={"table_id": table["id"], "name": "V", "configuration": UNKNOWN_FIELD_CONFIGS[key]},
        headers=owner.headers,
    )
    # Filters are checked by compiling them, which names the place as a record query would.
    expected = {"filter", "configuration.filters"} if key == "filters" else {f"configuration.{key}"}
    (where,) = bad_fields(response)
    assert where in expected
    # A field of another table is unknown here too.
    foreign = await api.client.post(
        "/views",
        json={
            "table_id": table["id"],
            "name": "V",
            "configuration": {"visible_fields": [other["primary_field_id"]]},
        },
        headers=owner.headers,
    )
    assert "configuration.visible_fields" in bad_fields(foreign)
    view = await api.post(owner, "/views", {"table_id": table["id"], "name": "Ok"})
    update = await put(
        api, owner, f"/views/{view['id']}", {"configuration": UNKNOWN_FIELD_CONFIGS[key]}
    )
    (where,) = bad_fields(update)
    assert where in expected
    assert await get(api, owner, f"/views/{view['id']}") == view
    assert [v["id"] for v in (await get(api, owner, "/views", table_id=table["id"]))["data"]] == [
        view["id"]
    ]


#: case → (field type, a condition without its field)
BAD_FILTERS: dict[str, tuple[str, dict[str, Any]]] = {
    "comparison-on-checkbox": ("checkbox", {"operator": "greater_than", "value": True}),
    "contains-on-number": ("number", {"operator": "contains", "value": "1"}),
    "text-for-number": ("number", {"operator": "equals", "value": "many"}),
    "in-without-list": ("text", {"operator": "in", "value": "a"}),
    "unknown-operator": ("text", {"operator": "resembles", "value": "a"}),
}


@pytest.mark.parametrize("case", list(BAD_FILTERS))
async def test_view_with_a_bad_filter_is_refused(api: Api, case: str) -> None:
    """A filter condition that cannot apply to its field is 422; no view is saved."""
    owner, table = await api.new_table()
    kind, condition = BAD_FILTERS[case]
    await add_field(api, owner, table["id"], "F", kind)
    response = await api.client.post(
        "/views",
        json={
            "table_id": table["id"],
            "name": "V",
            "configuration": {"filters": {"conditions": [{"field": "F", **condition}]}},
        },
        headers=owner.headers,
    )
    invalid(response)
    assert (await get(api, owner, "/views", table_id=table["id"]))["data"] == []


@pytest.mark.parametrize("kind", ["grid", "form", "calendar", "gallery", "kanban"])
async def test_view_type_may_be_any_of_the_five(api: Api, kind: str) -> None:
    """Each of the contract's view types is accepted."""
    owner, table = await api.new_table()
    view = await api.post(owner, "/views", {"table_id": table["id"], "name": "V", "type": kind})
    assert view["type"] == kind


async def test_view_type_outside_the_five_is_refused(api: Api) -> None:
    """Another view type, or a null one, is 422 naming `type` on create and update."""
    owner, table = await api.new_table()
    response = await api.client.post(
        "/views",
        json={"table_id": table["id"], "name": "V", "type": "timeline"},
        headers=owner.headers,
    )
    assert "type" in bad_fields(response)
    view = await api.post(owner, "/views", {"table_id": table["id"], "name": "V"})
    for wrong in ("list", None):
        assert "type" in bad_fields(await put(api, owner, f"/views/{view['id']}", {"type": wrong}))
    assert await get(api, owner, f"/views/{view['id']}") == view


async def test_view_of_another_table_is_refused_in_a_record_query(api: Api) -> None:
    """GET /records with a view of another table is 422 naming `view_id`."""
    owner, table = await api.new_table()
    other = await api.table(owner, table["base_id"])
    view = await api.post(owner, "/views", {"table_id": other["id"], "name": "V"})
    response = await api.client.get(
        "/records", params={"table_id": table["id"], "view_id": view["id"]}, headers=owner.headers
    )
    assert "view_id" in bad_fields(response)
