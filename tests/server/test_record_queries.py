"""Record queries (contract §5, §6): filters, sorts, projections, views and cursor pagination.

Every query runs twice, through ``GET /records?filter=<json>`` and ``POST /records/query``, and
both must answer the same. The semantics checked here are the ones ``data.query`` documents:
text ignores case, negative operators match empty cells, comparisons never do, array fields mean
"has element", sorting puts empty cells first ascending and last descending, ties fall back to
creation order (reversed for a descending sort).

The module shares one running app (see ``module_backend``); each test signs up its own owner and
builds its own tables.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio
import httpx2
import pytest

from pyairtable_server.data import cursor

from .backend import Actor, Api

pytestmark = pytest.mark.anyio

JSON = dict[str, Any]


@pytest.fixture(scope="module")
def api(module_api: Api) -> Api:
    """One app for the module; every test signs up users of its own."""
    return module_api


# --- helpers ---------------------------------------------------------------------------------


@dataclass
class Sheet:
    """A table whose records carry a unique ``Label``, so answers read as lists of labels."""

    api: Api
    owner: Actor
    table: JSON
    labels: dict[str, str] = field(default_factory=dict)  # record id → label
    records: dict[str, JSON] = field(default_factory=dict)  # label → record as created

    @property
    def id(self) -> str:
        return str(self.table["id"])

    def label_of(self, record: JSON) -> str:
        return self.labels[record["id"]]

    async def add(self, rows: dict[str, JSON]) -> None:
        """Create one record per row, in order, in one batch."""
        items = [{"fields": {"Label": label, **values}} for label, values in rows.items()]
        created = await self.api.post(
            self.owner, "/records/batch", {"table_id": self.id, "records": items}
        )
        for label, record in zip(rows, created["data"], strict=True):
            self.labels[record["id"]] = label
            self.records[label] = record

    async def add_one(self, label: str, values: JSON | None = None) -> JSON:
        record: JSON = await self.api.post(
            self.owner,
            "/records",
            {"table_id": self.id, "fields": {"Label": label, **(values or {})}},
        )
        self.labels[record["id"]] = label
        self.records[label] = record
        return record

    async def query(self, **params: Any) -> JSON:
        return await query_both(self.api, self.owner, self.id, **params)

    async def matched(self, filter: JSON, **params: Any) -> list[str]:
        """Labels of the records ``filter`` keeps, in answer order (one page of ≤ 100)."""
        answer = await self.query(filter=filter, **params)
        return [self.label_of(record) for record in answer["data"]]

    async def sorted_by(self, sort: list[JSON], **params: Any) -> list[str]:
        answer = await self.query(sort=sort, **params)
        return [self.label_of(record) for record in answer["data"]]


async def sheet(api: Api, fields: list[JSON], rows: dict[str, JSON] | None = None) -> Sheet:
    """A new owner's table with a primary ``Label`` text field, ``fields`` and ``rows``."""
    owner, table = await api.new_table([{"name": "Label", "type": "text"}, *fields])
    made = Sheet(api, owner, table)
    if rows:
        await made.add(rows)
    return made


def where(field_name: str, operator: str, value: Any = None) -> JSON:
    """A filter group of one condition."""
    return {
        "conjunction": "and",
        "conditions": [{"field": field_name, "operator": operator, "value": value}],
    }


def get_params(table_id: str, params: JSON) -> httpx2.QueryParams:
    """``GET /records`` query parameters for the same query as a ``POST /records/query`` body."""
    out: list[tuple[str, str | int | float | bool | None]] = [("table_id", table_id)]
    for key, value in params.items():
        if key in ("filter", "sort"):
            out.append((key, json.dumps(value)))
        elif key == "fields":
            out.extend(("fields", name) for name in value)
        elif value is not None:
            out.append((key, str(value)))
    return httpx2.QueryParams(out)


async def get_records(api: Api, actor: Actor, table_id: str, **params: Any) -> httpx2.Response:
    return await api.client.get(
        "/records", params=get_params(table_id, params), headers=actor.headers
    )


async def post_query(api: Api, actor: Actor, table_id: str, **params: Any) -> httpx2.Response:
    return await api.client.post(
        "/records/query", json={"table_id": table_id, **params}, headers=actor.headers
    )


def comparable(body: JSON) -> JSON:
    """An answer without its offset, which carries the second it was issued."""
    pagination = dict(body["pagination"])
    offset = pagination.pop("next_offset")
    return {**body, "pagination": {**pagination, "has_offset": offset is not None}}


async def query_both(api: Api, actor: Actor, table_id: str, **params: Any) -> JSON:
    """Run a query through GET and POST; they must answer alike. Returns the POST answer."""
    by_get = await get_records(api, actor, table_id, **params)
    by_post = await post_query(api, actor, table_id, **params)
    assert by_get.status_code == 200, by_get.text
    assert by_post.status_code == 200, by_post.text
    assert comparable(by_get.json()) == comparable(by_post.json())
    body: JSON = by_post.json()
    return body


def assert_error(response: httpx2.Response, status: int, error_type: str) -> JSON:
    """The error envelope of contract §2; answers its ``details``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["type"] == error_type, body
    assert body["request_id"] == response.headers["X-Request-ID"]
    details: JSON = body["error"]["details"]
    return details


async def refused_both(
    api: Api, actor: Actor, table_id: str, error_type: str = "VALIDATION_ERROR", **params: Any
) -> None:
    """The query is 422 ``error_type`` through GET and through POST."""
    assert_error(await get_records(api, actor, table_id, **params), 422, error_type)
    assert_error(await post_query(api, actor, table_id, **params), 422, error_type)


async def check_cases(
    made: Sheet, field_name: str, cases: list[tuple[str, Any, list[str]]]
) -> None:
    """Each (operator, value, expected labels in creation order) through both endpoints."""
    for operator, value, expected in cases:
        got = await made.matched(where(field_name, operator, value))
        assert got == expected, f"{field_name} {operator} {value!r}: {got} != {expected}"


# --- text ------------------------------------------------------------------------------------

TEXT_ROWS: dict[str, JSON] = {
    "e1": {"Name": "École"},
    "e2": {"Name": "ÉCOLE"},
    "e3": {"Name": "ecole"},
    "a1": {"Name": "Apple"},
    "a2": {"Name": "apple pie"},
    "b1": {"Name": "Banana"},
    "p1": {"Name": "🎉 party"},
    "pc": {"Name": "100% sure"},
    "us": {"Name": "snake_case"},
    "none": {},
}
ALL_TEXT = list(TEXT_ROWS)


async def text_sheet(api: Api) -> Sheet:
    return await sheet(api, [{"name": "Name", "type": "text"}], TEXT_ROWS)


async def test_text_equality_ignores_case_including_accented_letters(api: Api) -> None:
    """equals/not_equals/in fold case over all of Unicode ("école" = "ÉCOLE"), not accents."""
    made = await text_sheet(api)
    await check_cases(
        made,
        "Name",
        [
            ("equals", "école", ["e1", "e2"]),
            ("equals", "ÉCOLE", ["e1", "e2"]),
            ("equals", "ecole", ["e3"]),
            ("equals", "🎉 PARTY", ["p1"]),
            ("equals", "nothing like it", []),
            ("not_equals", "école", ["e3", "a1", "a2", "b1", "p1", "pc", "us", "none"]),
            ("in", ["apple", "BANANA", "nope"], ["a1", "b1"]),
            ("in", ["ÉCOLE"], ["e1", "e2"]),
        ],
    )


async def test_text_substring_operators_ignore_case_and_take_wildcards_literally(
    api: Api,
) -> None:
    """contains/not_contains/starts_with/ends_with fold case; % and _ are plain characters."""
    made = await text_sheet(api)
    await check_cases(
        made,
        "Name",
        [
            ("contains", "COL", ["e1", "e2", "e3"]),
            ("contains", "éc", ["e1", "e2"]),
            ("contains", "🎉", ["p1"]),
            ("contains", "%", ["pc"]),
            ("contains", "_", ["us"]),
            ("not_contains", "a", ["e1", "e2", "e3", "pc", "none"]),
            ("not_contains", "%", [label for label in ALL_TEXT if label != "pc"]),
            ("starts_with", "APP", ["a1", "a2"]),
            ("starts_with", "Éc", ["e1", "e2"]),
            ("starts_with", "%", []),
            ("ends_with", "PIE", ["a2"]),
            ("ends_with", "party", ["p1"]),
            ("ends_with", "_case", ["us"]),
        ],
    )


async def test_text_comparisons_use_lower_cased_code_points_and_skip_empty_cells(
    api: Api,
) -> None:
    """greater_than & co. compare lower-cased text; a cell without a value never matches."""
    made = await text_sheet(api)
    await check_cases(
        made,
        "Name",
        [
            ("greater_than", "b", ["e1", "e2", "e3", "b1", "p1", "us"]),
            ("less_than", "b", ["a1", "a2", "pc"]),
            ("greater_equal", "BANANA", ["e1", "e2", "e3", "b1", "p1", "us"]),
            ("less_equal", "APPLE", ["a1", "pc"]),
            ("less_than", "😀", [label for label in ALL_TEXT if label != "none"]),
        ],
    )


async def test_text_emptiness_operators(api: Api) -> None:
    """is_empty matches cells without a value ("" is no value); is_not_empty the others."""
    made = await text_sheet(api)
    blank = await made.add_one("blank", {"Name": ""})
    assert "Name" not in blank["fields"]
    await check_cases(
        made,
        "Name",
        [
            ("is_empty", None, ["none", "blank"]),
            ("is_not_empty", None, [label for label in ALL_TEXT if label != "none"]),
        ],
    )


async def test_text_sorts_by_lower_cased_code_points_with_empty_cells_first(api: Api) -> None:
    """Ascending puts empty first, equal keys in creation order; descending is its exact reverse
    (empty last, equal keys newest first)."""
    made = await text_sheet(api)
    ascending = ["none", "pc", "a1", "a2", "b1", "e3", "us", "e1", "e2", "p1"]
    assert await made.sorted_by([{"field": "Name", "direction": "asc"}]) == ascending
    assert await made.sorted_by([{"field": "Name"}]) == ascending
    descending = ascending[::-1]
    assert await made.sorted_by([{"field": "Name", "direction": "desc"}]) == descending


async def test_numbers_in_a_text_field_compare_as_text(api: Api) -> None:
    """On a text field "10" < "9": the filter value is text and compares as text."""
    made = await sheet(
        api,
        [{"name": "Code", "type": "text"}],
        {"ten": {"Code": "10"}, "nine": {"Code": "9"}, "hundred": {"Code": "100"}},
    )
    await check_cases(
        made,
        "Code",
        [
            ("less_than", "9", ["ten", "hundred"]),
            ("greater_than", "10", ["nine", "hundred"]),
            ("less_than", 9, ["ten", "hundred"]),
            ("equals", 10, ["ten"]),
            ("starts_with", "1", ["ten", "hundred"]),
        ],
    )
    assert await made.sorted_by([{"field": "Code"}]) == ["ten", "hundred", "nine"]


# --- numbers ---------------------------------------------------------------------------------

NUMBER_ROWS: dict[str, JSON] = {
    "neg": {"N": -1},
    "zero": {"N": 0},
    "two5": {"N": 2.5},
    "nine": {"N": 9},
    "ten": {"N": 10},
    "big": {"N": 100},
    "none": {},
}


async def test_number_filters_compare_numerically_even_with_string_values(api: Api) -> None:
    """On a number field "10" is the number 10, so 9 < "10"; zero is a value, not empty."""
    made = await sheet(api, [{"name": "N", "type": "number"}], NUMBER_ROWS)
    await check_cases(
        made,
        "N",
        [
            ("equals", 10, ["ten"]),
            ("equals", "10", ["ten"]),
            ("equals", 0, ["zero"]),
            ("equals", "2.5", ["two5"]),
            ("not_equals", 0, ["neg", "two5", "nine", "ten", "big", "none"]),
            ("greater_than", "9", ["ten", "big"]),
            ("less_than", "10", ["neg", "zero", "two5", "nine"]),
            ("greater_equal", 9, ["nine", "ten", "big"]),
            ("less_equal", 2.5, ["neg", "zero", "two5"]),
            ("less_than", 0, ["neg"]),
            ("in", [9, "100"], ["nine", "big"]),
            ("is_empty", None, ["none"]),
            ("is_not_empty", None, ["neg", "zero", "two5", "nine", "ten", "big"]),
        ],
    )


async def test_number_sorts_numerically_with_empty_cells_apart_from_zero(api: Api) -> None:
    """Ascending: empty, then -1, 0, 2.5, 9, 10, 100; descending the reverse with empty last."""
    made = await sheet(api, [{"name": "N", "type": "number"}], NUMBER_ROWS)
    ascending = ["none", "neg", "zero", "two5", "nine", "ten", "big"]
    assert await made.sorted_by([{"field": "N"}]) == ascending
    descending = [*ascending[1:][::-1], "none"]
    assert await made.sorted_by([{"field": "N", "direction": "desc"}]) == descending


async def test_number_fields_refuse_text_operators_and_non_numbers(api: Api) -> None:
    """contains on a number, or a value that is no number, is 422 naming the filter."""
    made = await sheet(api, [{"name": "N", "type": "number"}], {"one": {"N": 1}})
    for operator, value in [
        ("contains", "1"),
        ("starts_with", "1"),
        ("equals", "ten"),
        ("greater_than", True),
        ("less_than", None),
        ("in", []),
        ("in", "1"),
    ]:
        await refused_both(api, made.owner, made.id, filter=where("N", operator, value))


# --- checkbox --------------------------------------------------------------------------------


async def test_checkbox_filters_read_a_missing_value_as_false(api: Api) -> None:
    """equals false and is_empty match unchecked and never-set cells alike."""
    made = await sheet(
        api,
        [{"name": "Done", "type": "checkbox"}],
        {"yes": {"Done": True}, "no": {"Done": False}, "unset": {}, "yes2": {"Done": True}},
    )
    await check_cases(
        made,
        "Done",
        [
            ("equals", True, ["yes", "yes2"]),
            ("equals", "true", ["yes", "yes2"]),
            ("equals", 1, ["yes", "yes2"]),
            ("equals", False, ["no", "unset"]),
            ("not_equals", True, ["no", "unset"]),
            ("not_equals", False, ["yes", "yes2"]),
            ("is_empty", None, ["no", "unset"]),
            ("is_not_empty", None, ["yes", "yes2"]),
        ],
    )
    assert await made.sorted_by([{"field": "Done"}]) == ["no", "unset", "yes", "yes2"]
    assert await made.sorted_by([{"field": "Done", "direction": "desc"}]) == [
        "yes2",
        "yes",
        "unset",
        "no",
    ]


async def test_checkbox_refuses_comparisons_and_text_operators(api: Api) -> None:
    """A checkbox is only equal or not: greater_than, contains and non-booleans are 422."""
    made = await sheet(api, [{"name": "Done", "type": "checkbox"}], {"yes": {"Done": True}})
    for operator, value in [
        ("greater_than", True),
        ("less_equal", False),
        ("contains", "t"),
        ("starts_with", "t"),
        ("equals", "maybe"),
    ]:
        await refused_both(api, made.owner, made.id, filter=where("Done", operator, value))


# --- dates -----------------------------------------------------------------------------------


async def test_date_filters_compare_calendar_days(api: Api) -> None:
    """Dates compare as days; a date-time value is read as its UTC day; empty never compares."""
    made = await sheet(
        api,
        [{"name": "D", "type": "date"}],
        {
            "d1": {"D": "2024-01-15"},
            "d2": {"D": "2024-03-01"},
            "d0": {"D": "2023-12-31"},
            "none": {},
        },
    )
    await check_cases(
        made,
        "D",
        [
            ("equals", "2024-01-15", ["d1"]),
            ("equals", "2024-01-15T23:30:00Z", ["d1"]),
            ("equals", "2024-01-15T23:30:00-05:00", []),  # the 16th in UTC
            ("not_equals", "2024-01-15", ["d2", "d0", "none"]),
            ("greater_than", "2024-01-15", ["d2"]),
            ("less_than", "2024-01-15", ["d0"]),
            ("greater_equal", "2024-01-15", ["d1", "d2"]),
            ("less_equal", "2024-01-15", ["d1", "d0"]),
            ("starts_with", "2024", ["d1", "d2"]),
            ("contains", "-03-", ["d2"]),
            ("in", ["2024-03-01", "2023-12-31"], ["d2", "d0"]),
            ("is_empty", None, ["none"]),
            ("is_not_empty", None, ["d1", "d2", "d0"]),
        ],
    )
    assert await made.sorted_by([{"field": "D"}]) == ["none", "d0", "d1", "d2"]
    assert await made.sorted_by([{"field": "D", "direction": "desc"}]) == [
        "d2",
        "d1",
        "d0",
        "none",
    ]
    await refused_both(api, made.owner, made.id, filter=where("D", "equals", "not a date"))


async def test_datetime_filters_compare_instants_across_time_zones(api: Api) -> None:
    """Date-times are stored in UTC: 12:00+02:00 equals 10:00Z; a date alone is midnight UTC."""
    made = await sheet(
        api,
        [{"name": "T", "type": "datetime"}],
        {
            "t1": {"T": "2024-01-15T10:00:00Z"},
            "t2": {"T": "2024-01-15T12:00:00+02:00"},
            "t3": {"T": "2024-01-16T00:00:00Z"},
            "t0": {"T": "2024-01-14T23:59:59.999Z"},
            "none": {},
        },
    )
    assert made.records["t2"]["fields"]["T"] == "2024-01-15T10:00:00.000Z"
    await check_cases(
        made,
        "T",
        [
            ("equals", "2024-01-15T10:00:00Z", ["t1", "t2"]),
            ("equals", "2024-01-15T05:00:00-05:00", ["t1", "t2"]),
            ("not_equals", "2024-01-15T10:00:00Z", ["t3", "t0", "none"]),
            ("greater_than", "2024-01-15", ["t1", "t2", "t3"]),
            ("less_than", "2024-01-15", ["t0"]),
            ("less_equal", "2024-01-15T10:00:00.000Z", ["t1", "t2", "t0"]),
            ("greater_equal", "2024-01-16T00:00:00Z", ["t3"]),
            ("in", ["2024-01-16T01:00:00+01:00"], ["t3"]),
            ("is_empty", None, ["none"]),
        ],
    )
    assert await made.sorted_by([{"field": "T"}]) == ["none", "t0", "t1", "t2", "t3"]


# --- select, multiselect, reference ----------------------------------------------------------

COLORS: JSON = {"choices": ["Red", "Green", "Blue"]}


async def test_select_choices_compare_exactly_and_unknown_choices_match_nothing(api: Api) -> None:
    """equals/in compare choice names exactly (as multiselect does, and as the field's index
    can answer); text operators ignore case; a name that is no choice is a valid filter."""
    made = await sheet(
        api,
        [{"name": "S", "type": "select", "options": COLORS}],
        {"r": {"S": "Red"}, "g": {"S": "Green"}, "b": {"S": "Blue"}, "none": {}},
    )
    await check_cases(
        made,
        "S",
        [
            ("equals", "Red", ["r"]),
            ("equals", "red", []),
            ("equals", "Purple", []),
            ("not_equals", "Red", ["g", "b", "none"]),
            ("not_equals", "red", ["r", "g", "b", "none"]),
            ("in", ["Red", "BLUE", "Blue"], ["r", "b"]),
            ("contains", "re", ["r", "g"]),
            ("starts_with", "b", ["b"]),
            ("is_empty", None, ["none"]),
            ("is_not_empty", None, ["r", "g", "b"]),
        ],
    )
    assert await made.sorted_by([{"field": "S"}]) == ["none", "b", "g", "r"]


async def test_multiselect_filters_mean_has_element(api: Api) -> None:
    """equals/contains mean "has this choice", the negatives "lacks it", in "has any of them"."""
    made = await sheet(
        api,
        [{"name": "Tags", "type": "multiselect", "options": {"choices": ["a", "b", "c"]}}],
        {"ab": {"Tags": ["a", "b"]}, "b": {"Tags": ["b"]}, "c": {"Tags": ["c"]}, "none": {}},
    )
    await check_cases(
        made,
        "Tags",
        [
            ("equals", "b", ["ab", "b"]),
            ("contains", "b", ["ab", "b"]),
            ("contains", "a", ["ab"]),
            ("equals", "z", []),
            ("not_equals", "b", ["c", "none"]),
            ("not_contains", "a", ["b", "c", "none"]),
            ("in", ["a", "c"], ["ab", "c"]),
            ("in", ["z"], []),
            ("is_empty", None, ["none"]),
            ("is_not_empty", None, ["ab", "b", "c"]),
        ],
    )
    for operator in ("starts_with", "ends_with", "greater_than", "less_equal"):
        await refused_both(api, made.owner, made.id, filter=where("Tags", operator, "a"))


async def test_reference_filters_mean_has_linked_record(api: Api) -> None:
    """A link field filters by record id: equals/contains "links to it", in "links to any"."""
    owner, table = await api.new_table([{"name": "Name", "type": "text"}])
    targets = await api.post(
        owner,
        "/records/batch",
        {
            "table_id": table["id"],
            "records": [{"fields": {"Name": name}} for name in ("T1", "T2", "T3")],
        },
    )
    t1, t2, t3 = (record["id"] for record in targets["data"])
    linking = await api.table(
        owner,
        table["base_id"],
        [
            {"name": "Label", "type": "text"},
            {"name": "Links", "type": "reference", "options": {"referenced_table_id": table["id"]}},
        ],
    )
    made = Sheet(api, owner, linking)
    await made.add(
        {"l12": {"Links": [t1, t2]}, "l2": {"Links": [t2]}, "l3": {"Links": [t3]}, "none": {}}
    )
    await check_cases(
        made,
        "Links",
        [
            ("equals", t2, ["l12", "l2"]),
            ("contains", t1, ["l12"]),
            ("not_equals", t2, ["l3", "none"]),
            ("not_contains", t1, ["l2", "l3", "none"]),
            ("in", [t1, t3], ["l12", "l3"]),
            ("is_empty", None, ["none"]),
            ("is_not_empty", None, ["l12", "l2", "l3"]),
        ],
    )


# --- computed fields -------------------------------------------------------------------------


async def test_autonumber_filters_compare_creation_numbers(api: Api) -> None:
    """An autonumber is a number that always exists: is_empty matches nothing."""
    made = await sheet(api, [{"name": "No", "type": "autonumber"}])
    await made.add({f"r{n}": {} for n in range(1, 5)})
    assert [made.records[f"r{n}"]["fields"]["No"] for n in range(1, 5)] == [1, 2, 3, 4]
    await check_cases(
        made,
        "No",
        [
            ("equals", 2, ["r2"]),
            ("equals", "3", ["r3"]),
            ("not_equals", 1, ["r2", "r3", "r4"]),
            ("greater_than", 2, ["r3", "r4"]),
            ("less_equal", "2", ["r1", "r2"]),
            ("in", [1, 4], ["r1", "r4"]),
            ("is_empty", None, []),
            ("is_not_empty", None, ["r1", "r2", "r3", "r4"]),
        ],
    )
    assert await made.sorted_by([{"field": "No", "direction": "desc"}]) == ["r4", "r3", "r2", "r1"]


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_created_time_filters_compare_the_creation_instant(api: Api) -> None:
    """A created_time filter compares instants: a record's own creation time is ≤ and ≥ itself."""
    made = await sheet(api, [{"name": "Created", "type": "created_time"}])
    for n in range(1, 5):
        await made.add_one(f"r{n}")
    shown = {label: record["fields"]["Created"] for label, record in made.records.items()}
    assert shown == {label: record["created_at"] for label, record in made.records.items()}
    labels = list(shown)
    pivot = shown["r3"]
    await check_cases(
        made,
        "Created",
        [
            ("greater_than", "2000-01-01", labels),
            ("less_than", "2000-01-01T00:00:00Z", []),
            ("is_empty", None, []),
            ("is_not_empty", None, labels),
            (
                "greater_equal",
                pivot,
                [label for label in labels if instant(shown[label]) >= instant(pivot)],
            ),
            (
                "less_than",
                pivot,
                [label for label in labels if instant(shown[label]) < instant(pivot)],
            ),
            ("less_equal", pivot, [label for label in labels if shown[label] <= pivot]),
            ("greater_than", pivot, [label for label in labels if shown[label] > pivot]),
            ("equals", pivot, [label for label in labels if shown[label] == pivot]),
        ],
    )
    assert await made.sorted_by([{"field": "Created", "direction": "desc"}]) == labels[::-1]


async def test_record_times_refuse_text_operators(api: Api) -> None:
    """created_time/last_modified_time are instants: contains & co. are 422, never a crash,
    in a query and in a view's saved filter alike."""
    made = await sheet(
        api,
        [
            {"name": "Created", "type": "created_time"},
            {"name": "Seen", "type": "last_modified_time"},
        ],
        {"x": {}},
    )
    for field_name in ("Created", "Seen"):
        for operator in ("contains", "not_contains", "starts_with", "ends_with"):
            condition = where(field_name, operator, "2024")
            await refused_both(api, made.owner, made.id, filter=condition)
            response = await api.client.post(
                "/views",
                json={"table_id": made.id, "name": "V", "configuration": {"filters": condition}},
                headers=made.owner.headers,
            )
            assert_error(response, 422, "VALIDATION_ERROR")


# --- groups ----------------------------------------------------------------------------------


async def test_and_or_and_nested_groups_combine_conditions(api: Api) -> None:
    """Groups join with and/or, nest, and an empty group keeps everything."""
    made = await sheet(
        api,
        [{"name": "A", "type": "text"}, {"name": "N", "type": "number"}],
        {
            "x": {"A": "foo", "N": 1},
            "y": {"A": "bar", "N": 2},
            "z": {"A": "foo", "N": 3},
            "w": {},
        },
    )

    def c(field_name: str, operator: str, value: Any = None) -> JSON:
        return {"field": field_name, "operator": operator, "value": value}

    cases: list[tuple[JSON, list[str]]] = [
        (
            {"conjunction": "or", "conditions": [c("A", "equals", "foo"), c("N", "equals", 2)]},
            ["x", "y", "z"],
        ),
        (
            {
                "conjunction": "and",
                "conditions": [c("A", "equals", "foo"), c("N", "greater_than", 1)],
            },
            ["z"],
        ),
        ({"conditions": [c("A", "equals", "foo"), c("N", "greater_than", 1)]}, ["z"]),
        (
            {
                "conjunction": "or",
                "conditions": [
                    {
                        "conjunction": "and",
                        "conditions": [c("A", "equals", "foo"), c("N", "less_than", 2)],
                    },
                    {"conjunction": "and", "conditions": [c("A", "equals", "BAR")]},
                ],
            },
            ["x", "y"],
        ),
        (
            {
                "conjunction": "and",
                "conditions": [
                    {"conjunction": "or", "conditions": [c("N", "equals", 1), c("N", "equals", 3)]},
                    c("A", "is_not_empty"),
                ],
            },
            ["x", "z"],
        ),
        ({"conjunction": "or", "conditions": [c("A", "is_empty"), c("N", "in", [2])]}, ["y", "w"]),
        ({"conjunction": "and", "conditions": []}, ["x", "y", "z", "w"]),
        ({"conjunction": "or", "conditions": []}, ["x", "y", "z", "w"]),
    ]
    for group, expected in cases:
        assert await made.matched(group) == expected, group


async def test_filters_nested_too_deep_are_refused(api: Api) -> None:
    """Groups nest at most five levels deep; deeper is 422."""
    made = await sheet(api, [], {"x": {}})
    group: JSON = where("Label", "is_not_empty")
    for _ in range(4):
        group = {"conjunction": "and", "conditions": [group]}
    assert await made.matched(group) == ["x"]
    too_deep = {"conjunction": "and", "conditions": [group]}
    await refused_both(api, made.owner, made.id, filter=too_deep)


# --- bad queries -----------------------------------------------------------------------------


async def test_bad_filters_are_refused_with_422(api: Api) -> None:
    """Unknown fields, unknown operators, checkbox comparisons: 422 VALIDATION_ERROR."""
    made = await sheet(api, [{"name": "Done", "type": "checkbox"}], {"x": {}})
    await refused_both(api, made.owner, made.id, filter=where("Nope", "equals", "x"))
    await refused_both(api, made.owner, made.id, filter=where("fldDoesNotExist0000", "is_empty"))
    await refused_both(api, made.owner, made.id, filter=where("Label", "resembles", "x"))
    await refused_both(api, made.owner, made.id, filter=where("Done", "greater_than", True))
    await refused_both(api, made.owner, made.id, filter={"conjunction": "xor", "conditions": []})
    await refused_both(api, made.owner, made.id, filter={"conditions": [{"operator": "equals"}]})
    details = assert_error(
        await get_records(api, made.owner, made.id, filter=where("Nope", "equals", "x")),
        422,
        "VALIDATION_ERROR",
    )
    assert "filter" in details["fields"]


async def test_malformed_json_in_the_filter_or_sort_parameter_is_422(api: Api) -> None:
    """A GET ``filter`` or ``sort`` that is not JSON is a 422 naming the parameter."""
    made = await sheet(api, [], {"x": {}})
    for name, raw in [("filter", '{"conjunction": "and", '), ("sort", "[{field: Label}]")]:
        response = await api.client.get(
            "/records", params={"table_id": made.id, name: raw}, headers=made.owner.headers
        )
        details = assert_error(response, 422, "VALIDATION_ERROR")
        assert name in details["fields"]


async def test_bad_sorts_are_refused_with_422(api: Api) -> None:
    """A sort on an unknown field or in an unknown direction is 422."""
    made = await sheet(api, [], {"x": {}})
    await refused_both(api, made.owner, made.id, sort=[{"field": "Nope"}])
    await refused_both(api, made.owner, made.id, sort=[{"field": "Label", "direction": "up"}])


# --- projection ------------------------------------------------------------------------------

PROJECTED_FIELDS: list[JSON] = [
    {"name": "Score", "type": "number"},
    {"name": "Note", "type": "text"},
]


async def test_fields_projection_accepts_repeated_and_comma_separated_names(api: Api) -> None:
    """``fields`` keeps only the named fields, in the order named, by name or id."""
    made = await sheet(api, PROJECTED_FIELDS, {"x": {"Score": 1, "Note": "hi"}})
    by_name = {f["name"]: f["id"] for f in made.table["fields"]}
    for fields, expected in [
        (["Score", "Label"], ["Score", "Label"]),
        (["Note,Label"], ["Note", "Label"]),
        (["Note, Score", "Label"], ["Note", "Score", "Label"]),
        ([by_name["Score"]], ["Score"]),
        ([f"{by_name['Note']},Label"], ["Note", "Label"]),
        (["Score", "Score"], ["Score"]),
    ]:
        answer = await made.query(fields=fields)
        assert [list(r["fields"]) for r in answer["data"]] == [expected], fields
    everything = await made.query()
    assert list(everything["data"][0]["fields"]) == ["Label", "Score", "Note"]


async def test_projection_leaves_out_empty_cells(api: Api) -> None:
    """A projected field without a value is absent from the record, as every empty cell is."""
    made = await sheet(api, PROJECTED_FIELDS, {"x": {"Score": 1}})
    answer = await made.query(fields=["Note", "Score"])
    assert answer["data"][0]["fields"] == {"Score": 1}


async def test_projection_of_an_unknown_field_is_422(api: Api) -> None:
    """Naming a field the table lacks is 422, alone or in a comma-separated list."""
    made = await sheet(api, PROJECTED_FIELDS, {"x": {}})
    for fields in (["Nope"], ["Score,Nope"], ["Label", "Nope"]):
        details = assert_error(
            await get_records(api, made.owner, made.id, fields=fields), 422, "VALIDATION_ERROR"
        )
        assert "fields" in details["fields"]
        assert_error(
            await post_query(api, made.owner, made.id, fields=fields), 422, "VALIDATION_ERROR"
        )


# --- views -----------------------------------------------------------------------------------

VIEW_FIELDS: list[JSON] = [
    {"name": "Name", "type": "text"},
    {"name": "Score", "type": "number"},
    {"name": "Note", "type": "text"},
]
VIEW_ROWS: dict[str, JSON] = {
    "a": {"Name": "alpha", "Score": 3, "Note": "n1"},
    "b": {"Name": "beta", "Score": 1},
    "c": {"Name": "gamma", "Score": 5},
    "d": {"Name": "delta", "Score": 3},
    "e": {"Name": "alp", "Score": 0},
}


async def view_sheet(api: Api) -> tuple[Sheet, str]:
    """A sheet and a view: Score > 1, sorted by Score descending, showing Score then Name."""
    made = await sheet(api, VIEW_FIELDS, VIEW_ROWS)
    view = await api.post(
        made.owner,
        "/views",
        {
            "table_id": made.id,
            "name": "Top",
            "type": "grid",
            "configuration": {
                "visible_fields": ["Name", "Score"],
                "field_order": ["Score", "Name"],
                "sorts": [{"field": "Score", "direction": "desc"}],
                "filters": where("Score", "greater_than", 1),
            },
        },
    )
    return made, str(view["id"])


async def test_view_applies_its_filter_sort_visible_fields_and_field_order(api: Api) -> None:
    """Through a view: only its records, in its order (ties on the descending Score newest
    first), with its visible fields in its order."""
    made, view_id = await view_sheet(api)
    answer = await made.query(view_id=view_id)
    assert [made.label_of(r) for r in answer["data"]] == ["c", "d", "a"]
    assert [list(r["fields"]) for r in answer["data"]] == [["Score", "Name"]] * 3
    assert answer["pagination"]["total"] == 3


async def test_request_filter_and_sort_apply_on_top_of_the_view(api: Api) -> None:
    """The request's filter ANDs with the view's; its sorts come before the view's."""
    made, view_id = await view_sheet(api)
    filtered = await made.query(view_id=view_id, filter=where("Name", "contains", "L"))
    assert [made.label_of(r) for r in filtered["data"]] == ["d", "a"]
    assert filtered["pagination"]["total"] == 2
    by_name = await made.query(view_id=view_id, sort=[{"field": "Name"}])
    assert [made.label_of(r) for r in by_name["data"]] == ["a", "d", "c"]
    # Empty notes tie; the view's Score-descending sort breaks the tie.
    by_note = await made.query(view_id=view_id, sort=[{"field": "Note"}])
    assert [made.label_of(r) for r in by_note["data"]] == ["c", "d", "a"]


async def test_request_fields_override_the_view_projection(api: Api) -> None:
    """``fields`` in the request replaces the view's visible fields."""
    made, view_id = await view_sheet(api)
    answer = await made.query(view_id=view_id, fields=["Note", "Label"])
    assert [r["fields"] for r in answer["data"]] == [
        {"Label": "c"},
        {"Label": "d"},
        {"Note": "n1", "Label": "a"},
    ]


async def test_view_pages_through_its_own_order(api: Api) -> None:
    """Offsets of a view query continue in the view's order."""
    made, view_id = await view_sheet(api)
    first = await made.query(view_id=view_id, page_size=2)
    assert [made.label_of(r) for r in first["data"]] == ["c", "d"]
    second = await made.query(
        view_id=view_id, page_size=2, offset=first["pagination"]["next_offset"]
    )
    assert [made.label_of(r) for r in second["data"]] == ["a"]
    assert second["pagination"]["next_offset"] is None


async def test_a_view_of_another_table_is_refused(api: Api) -> None:
    """view_id must name a view of the queried table."""
    made, view_id = await view_sheet(api)
    other = await api.table(made.owner, made.table["base_id"])
    await refused_both(api, made.owner, other["id"], view_id=view_id)
    await refused_both(api, made.owner, made.id, view_id="viwDoesNotExist0000")


# --- sort stability --------------------------------------------------------------------------


async def page_through(made: Sheet, page_size: int, **params: Any) -> list[JSON]:
    """Every page of a query, alternating GET and POST; the records in answer order."""
    records: list[JSON] = []
    offset: str | None = None
    use_get = True
    while True:
        request = {**params, "page_size": page_size}
        if offset is not None:
            request["offset"] = offset
        call = get_records if use_get else post_query
        response = await call(made.api, made.owner, made.id, **request)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["data"]) <= page_size
        records += body["data"]
        offset = body["pagination"]["next_offset"]
        assert body["pagination"]["has_next"] is (offset is not None)
        if offset is None:
            return records
        assert len(body["data"]) == page_size
        use_get = not use_get


async def test_paging_through_many_equal_keys_gives_each_record_once_in_creation_order(
    api: Api,
) -> None:
    """With three sort values over 50 records, pages of 7 hold each record exactly once: empty
    cells first ascending and last descending, ties in creation order ascending and newest first
    descending (descending is the exact reverse of ascending)."""
    made = await sheet(api, [{"name": "G", "type": "number"}])
    groups = [None, 1, 2]
    rows = {f"r{n:02}": ({} if groups[n % 3] is None else {"G": groups[n % 3]}) for n in range(50)}
    await made.add(rows)
    created = list(rows)

    def in_group(value: int | None) -> list[str]:
        return [label for n, label in enumerate(created) if groups[n % 3] == value]

    ascending = await page_through(made, 7, sort=[{"field": "G", "direction": "asc"}])
    assert [made.label_of(r) for r in ascending] == in_group(None) + in_group(1) + in_group(2)
    descending = await page_through(made, 7, sort=[{"field": "G", "direction": "desc"}])
    assert [made.label_of(r) for r in descending] == [made.label_of(r) for r in ascending][::-1]


async def test_paging_by_a_text_field_with_ties_keeps_every_record_once(api: Api) -> None:
    """Text keys with many duplicates (and case variants) page without loss or repetition."""
    made = await sheet(api, [{"name": "Word", "type": "text"}])
    words = ["b", "A", "", "a", "B", "c"]
    rows = {f"r{n:02}": ({"Word": words[n % 6]} if words[n % 6] else {}) for n in range(40)}
    await made.add(rows)
    created = list(rows)

    def key(label: str) -> str:
        return str(rows[label].get("Word", "")).lower()

    for direction in ("asc", "desc"):
        seen = await page_through(made, 6, sort=[{"field": "Word", "direction": direction}])
        labels = [made.label_of(r) for r in seen]
        # Ascending keeps ties in creation order; descending is the exact reverse.
        expected = sorted(created, key=key)
        if direction == "desc":
            expected.reverse()
        assert labels == expected, direction


async def test_paging_by_any_sortable_type_matches_the_single_page_order(api: Api) -> None:
    """For a sort on every kind of field, both directions, pages of 4 join up to exactly the
    one-page answer: offsets carry every kind of sort key faithfully."""
    made = await sheet(
        api,
        [
            {"name": "N", "type": "number"},
            {"name": "Done", "type": "checkbox"},
            {"name": "Day", "type": "date"},
            {"name": "At", "type": "datetime"},
            {"name": "S", "type": "select", "options": COLORS},
            {"name": "Tags", "type": "multiselect", "options": {"choices": ["a", "b", "c"]}},
            {"name": "Created", "type": "created_time"},
            {"name": "No", "type": "autonumber"},
        ],
    )
    numbers = [0.1, 2, None, -3.5, 2]
    days = ["2024-01-02", None, "2023-12-31"]
    colors = ["Red", None, "Blue", "Green"]
    tags = [["b"], ["a", "c"], [], ["c"]]
    for start in (0, 15):  # two batches: two creation instants
        await made.add(
            {
                f"r{n:02}": {
                    "N": numbers[n % 5],
                    "Done": n % 3 == 0,
                    "Day": days[n % 3],
                    "At": f"2024-05-0{1 + n % 4}T10:00:00.{n % 2}00Z",
                    "S": colors[n % 4],
                    "Tags": tags[n % 4],
                }
                for n in range(start, start + 15)
            }
        )
    for name in ("N", "Done", "Day", "At", "S", "Tags", "Created", "No", "Label"):
        for direction in ("asc", "desc"):
            sort = [{"field": name, "direction": direction}]
            whole = await made.query(sort=sort)
            paged = await page_through(made, 4, sort=sort)
            assert [r["id"] for r in paged] == [r["id"] for r in whole["data"]], sort
            assert len(paged) == 30
    two_keys = [{"field": "Done", "direction": "desc"}, {"field": "N"}]
    whole = await made.query(sort=two_keys)
    assert [r["id"] for r in await page_through(made, 3, sort=two_keys)] == [
        r["id"] for r in whole["data"]
    ]


# --- pagination ------------------------------------------------------------------------------


async def test_pages_report_size_total_has_next_and_a_null_offset_at_the_end(api: Api) -> None:
    """25 records in pages of 10: 10, 10, 5; total 25 throughout; next_offset null on the last."""
    made = await sheet(api, [])
    await made.add({f"r{n:02}": {} for n in range(25)})
    sizes, offsets = [], []
    offset: str | None = None
    while True:
        params: JSON = {"page_size": 10}
        if offset is not None:
            params["offset"] = offset
        answer = await made.query(**params)
        pagination = answer["pagination"]
        assert pagination["page_size"] == 10
        assert pagination["total"] == 25
        assert isinstance(pagination["event_position"], int)
        sizes.append(len(answer["data"]))
        offset = pagination["next_offset"]
        offsets.append(offset)
        assert pagination["has_next"] is (offset is not None)
        if offset is None:
            break
    assert sizes == [10, 10, 5]
    assert offsets[-1] is None
    assert all(isinstance(o, str) and o for o in offsets[:-1])


async def test_page_size_defaults_to_100_and_is_bounded(api: Api) -> None:
    """Without page_size a page holds up to 100; 0 and 101 are 422."""
    made = await sheet(api, [])
    await made.add({f"r{n:03}": {} for n in range(100)})
    await made.add_one("last")
    answer = await made.query()
    assert answer["pagination"]["page_size"] == 100
    assert len(answer["data"]) == 100
    assert answer["pagination"]["has_next"] is True
    assert answer["pagination"]["total"] == 101
    for size in (0, 101):
        await refused_both(api, made.owner, made.id, page_size=size)


async def test_total_counts_the_records_a_filter_keeps(api: Api) -> None:
    """With a filter, total is the number of matching records, not the table's."""
    made = await sheet(api, [{"name": "N", "type": "number"}])
    await made.add({f"r{n:02}": {"N": n} for n in range(12)})
    answer = await made.query(filter=where("N", "greater_equal", 5), page_size=3)
    assert answer["pagination"]["total"] == 7
    assert len(answer["data"]) == 3
    assert answer["pagination"]["has_next"] is True


async def test_a_malformed_offset_is_invalid_offset(api: Api) -> None:
    """Garbage, empty or truncated offsets answer 422 INVALID_OFFSET."""
    made = await sheet(api, [])
    await made.add({f"r{n}": {} for n in range(5)})
    first = await made.query(page_size=2)
    real = first["pagination"]["next_offset"]
    for bad in ("garbage!!", "abc", real[: len(real) // 2], real + "x", "=" * 8):
        await refused_both(api, made.owner, made.id, "INVALID_OFFSET", page_size=2, offset=bad)


async def test_a_tampered_offset_is_invalid_offset(api: Api) -> None:
    """Changing any character of an offset breaks its signature: 422 INVALID_OFFSET."""
    made = await sheet(api, [])
    await made.add({f"r{n}": {} for n in range(5)})
    real = (await made.query(page_size=2))["pagination"]["next_offset"]
    for index in (0, len(real) // 2, len(real) - 1):
        swapped = "A" if real[index] != "A" else "B"
        tampered = real[:index] + swapped + real[index + 1 :]
        await refused_both(api, made.owner, made.id, "INVALID_OFFSET", page_size=2, offset=tampered)


async def test_an_offset_of_another_query_is_invalid_offset(api: Api) -> None:
    """An offset works only for the query that produced it: another sort, filter or table is
    422 INVALID_OFFSET, while another page size is the same query."""
    made = await sheet(api, [{"name": "N", "type": "number"}])
    await made.add({f"r{n}": {"N": n} for n in range(6)})
    offset = (await made.query(page_size=2, sort=[{"field": "N"}]))["pagination"]["next_offset"]
    await refused_both(api, made.owner, made.id, "INVALID_OFFSET", page_size=2, offset=offset)
    await refused_both(
        api,
        made.owner,
        made.id,
        "INVALID_OFFSET",
        page_size=2,
        offset=offset,
        sort=[{"field": "N", "direction": "desc"}],
    )
    await refused_both(
        api,
        made.owner,
        made.id,
        "INVALID_OFFSET",
        page_size=2,
        offset=offset,
        sort=[{"field": "N"}],
        filter=where("N", "greater_than", 0),
    )
    other = await sheet(api, [{"name": "N", "type": "number"}], {"x": {"N": 1}})
    await refused_both(
        api,
        other.owner,
        other.id,
        "INVALID_OFFSET",
        page_size=2,
        offset=offset,
        sort=[{"field": "N"}],
    )
    same = await made.query(page_size=3, offset=offset, sort=[{"field": "N"}])
    assert [made.label_of(r) for r in same["data"]] == ["r2", "r3", "r4"]


def test_an_expired_offset_is_invalid_offset() -> None:
    """An offset decodes for a day after it was issued; after that it is INVALID_OFFSET."""
    key, query = b"k" * 32, cursor.query_hash(["tbl", None])
    issued = 1_700_000_000.0
    offset = cursor.encode(key, query, [1, "x", None], now=issued)
    day = cursor.OFFSET_TTL_SECONDS
    assert cursor.decode(key, query, offset, width=3, now=issued + day - 1) == [1, "x", None]
    with pytest.raises(cursor.InvalidOffset) as caught:
        cursor.decode(key, query, offset, width=3, now=issued + day + 1)
    assert caught.value.type == "INVALID_OFFSET"
    assert caught.value.status_code == 422
    assert caught.value.details == {"fields": {"offset": "expired"}}
    with pytest.raises(cursor.InvalidOffset):
        cursor.decode(b"another key" * 3, query, offset, width=3, now=issued)
    with pytest.raises(cursor.InvalidOffset):
        cursor.decode(key, cursor.query_hash(["tbl", "viw"]), offset, width=3, now=issued)


# --- pagination under concurrent writes ------------------------------------------------------


@pytest.mark.parametrize(
    "sort",
    [[], [{"field": "G", "direction": "desc"}], [{"field": "Word", "direction": "asc"}]],
    ids=["creation-order", "number-desc-with-ties", "text-asc-with-ties"],
)
async def test_paging_while_others_insert_and_delete_keeps_every_lasting_record_once(
    api: Api, sort: list[JSON]
) -> None:
    """200 records paged 17 at a time while a concurrent writer inserts and deletes other
    records: every record that existed throughout appears exactly once, no id repeats."""
    made = await sheet(api, [{"name": "G", "type": "number"}, {"name": "Word", "type": "text"}])
    words = ["m", "a", "z", "M", "", "q"]
    for start in (0, 100):
        await made.add(
            {
                f"r{n:03}": {"G": n % 4, **({"Word": words[n % 6]} if words[n % 6] else {})}
                for n in range(start, start + 100)
            }
        )
    lasting_ids = set(made.labels)
    assert len(lasting_ids) == 200

    done = anyio.Event()
    wrote = anyio.Event()
    inserted: set[str] = set()
    writes = 0

    async def writer() -> None:
        nonlocal writes, wrote
        alive: list[str] = []
        n = 0
        while not done.is_set():
            n += 1
            values = {"G": n % 5, "Word": words[n % 6] or "k"}
            record = await api.post(made.owner, "/records", {"table_id": made.id, "fields": values})
            inserted.add(record["id"])
            alive.append(record["id"])
            if n % 2 == 0:
                gone = await api.client.delete(
                    f"/records/{alive.pop(0)}", headers=made.owner.headers
                )
                assert gone.status_code == 204, gone.text
            writes += 1
            wrote.set()
            wrote = anyio.Event()

    seen: list[str] = []

    async def reader() -> None:
        try:
            offset: str | None = None
            while True:
                await wrote.wait()  # at least one write lands between any two pages
                params: JSON = {"page_size": 17, "sort": sort}
                if offset is not None:
                    params["offset"] = offset
                response = await post_query(api, made.owner, made.id, **params)
                assert response.status_code == 200, response.text
                body = response.json()
                seen.extend(record["id"] for record in body["data"])
                offset = body["pagination"]["next_offset"]
                if offset is None:
                    return
        finally:
            done.set()

    async with anyio.create_task_group() as group:
        group.start_soon(writer)
        group.start_soon(reader)

    assert writes >= 12
    assert len(seen) == len(set(seen)), "a record id appeared twice"
    assert lasting_ids <= set(seen), "a record that existed throughout was skipped"
    assert set(seen) <= lasting_ids | inserted
